"""`facematch-dev loadtest --in-cluster` against recorded Kubernetes API responses, over real HTTP.

A loopback server plays the API server: it answers creates and deletes, a
running then finished master Job, the master's pod and its log, and records
every call; the real `kubernetes` client talks to it.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from PIL import Image

from devtools import loadtest_cluster
from devtools.loadtest_cluster import BEGIN, END, Cluster, Run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s"
NS = "/namespaces/facematch/"
RUN = Run(namespace="facematch", users=120, spawn_rate=4, duration="2m", workers=3, photos=50,
          admin_email="admin@example.com", admin_password="s3cret-pass")  # fmt: skip


def _master_log() -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in {
            "locust_stats.csv": "Type,Name\n,Aggregated\n",
            "report.html": "<html>",
        }.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    encoded = base64.encodebytes(buffer.getvalue()).decode()
    return f"[2026-11-22 21:09:39] Shutting down\n{BEGIN}\n{encoded}{END}\n"


class FakeApiServer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.job_reads = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.calls.append(("POST", urlparse(self.path).path, body))
                self._reply(201, json.dumps(body).encode())

            def do_DELETE(self) -> None:
                fake.calls.append(("DELETE", urlparse(self.path).path, None))
                self._reply(404, b'{"kind":"Status","code":404,"reason":"NotFound"}')

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                fake.calls.append(("GET", self.path, None))
                if path.endswith("/jobs/facematch-loadtest-master/status"):
                    fake.job_reads += 1
                    name = "running" if fake.job_reads < 3 else "succeeded"
                    self._reply(200, (FIXTURES / f"job-master-{name}.json").read_bytes())
                elif path.endswith("/pods/facematch-loadtest-master-x7k2p/log"):
                    self._reply(200, _master_log().encode(), "text/plain")
                elif path.endswith(NS + "pods"):
                    self._reply(200, (FIXTURES / "pods-loadtest-master.json").read_bytes())
                else:
                    self._reply(404, b'{"kind":"Status","code":404}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake() -> Iterator[tuple[FakeApiServer, Cluster]]:
    from kubernetes import client

    server = FakeApiServer()
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server.server_address[1]}"
    with client.ApiClient(configuration) as api:
        yield server, Cluster(api)
    server.server.shutdown()
    server.server.server_close()


def test_a_run_creates_follows_collects_and_cleans_up(fake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, cluster = fake
    lines: list[str] = []

    files = loadtest_cluster.run_in_cluster(
        RUN, {"ada__1.jpg": b"\xff\xd8jpeg"}, tmp_path / "out", cluster=cluster,
        progress=lines.append, poll_seconds=0.01,
    )  # fmt: skip

    created = {(path.split("/")[-1], body["metadata"]["name"]): body
               for method, path, body in server.calls if method == "POST"}  # fmt: skip
    assert set(created) == {
        ("configmaps", "facematch-locustfile"), ("configmaps", "facematch-loadtest-faces"),
        ("secrets", "facematch-loadtest-admin"), ("services", "facematch-loadtest-master"),
        ("jobs", "facematch-loadtest-master"), ("jobs", "facematch-loadtest-worker"),
        ("networkpolicies", "facematch-loadtest"),
    }  # fmt: skip
    master = created[("jobs", "facematch-loadtest-master")]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in master["containers"][0]["env"]}
    assert (env["LOCUST_USERS"], env["LOCUST_SPAWN_RATE"], env["LOCUST_RUN_TIME"]) == (
        "120", "4", "2m")  # fmt: skip
    assert env["LOCUST_EXPECT_WORKERS"] == "3"
    assert created[("jobs", "facematch-loadtest-worker")]["spec"]["parallelism"] == 3
    faces = created[("configmaps", "facematch-loadtest-faces")]["binaryData"]
    assert base64.b64decode(faces["ada__1.jpg"]) == b"\xff\xd8jpeg"
    assert created[("secrets", "facematch-loadtest-admin")]["stringData"]["email"] == (
        "admin@example.com"
    )
    assert "locustfile.py" in created[("configmaps", "facematch-locustfile")]["data"]
    assert server.job_reads == 3
    assert [f.name for f in files] == ["locust_stats.csv", "report.html"]
    # Deleted before (leftovers) and after (cleanup): every object twice.
    deletes = [path for method, path, _ in server.calls if method == "DELETE"]
    assert len(deletes) == 2 * len(created)
    assert lines[-1] == "deleted the load-test objects"
    assert any("succeeded 1" in line for line in lines)


def test_the_inputs_are_the_faces_and_the_admin_credentials() -> None:
    made = loadtest_cluster.inputs(RUN, {"ada__1.jpg": b"x"})

    assert [(o["kind"], o["metadata"]["name"]) for o in made] == [
        ("ConfigMap", "facematch-loadtest-faces"),
        ("Secret", "facematch-loadtest-admin"),
    ]


def test_a_log_without_results_is_a_clear_failure(tmp_path: Path) -> None:
    with pytest.raises(loadtest_cluster.LoadTestFailed, match="no results"):
        loadtest_cluster.unpack_results("Traceback: locust crashed\n", tmp_path)


def test_faces_fit_a_config_map_with_every_identity_first(tmp_path: Path) -> None:
    identities = {}
    for who in ("ada", "bob", "cy"):
        identities[who] = []
        for n in range(4):
            path = tmp_path / f"{who}{n}.jpg"
            Image.effect_noise((900, 700), 60).convert("RGB").save(path, "JPEG", quality=95)
            identities[who].append(path)

    packed = loadtest_cluster.pack_faces(identities, budget=5 * 60_000)

    assert {"ada__1.jpg", "bob__1.jpg", "cy__1.jpg"} <= set(packed)
    assert sum(len(d) for d in packed.values()) <= 5 * 60_000
    assert all(max(Image.open(io.BytesIO(d)).size) <= loadtest_cluster.FACE_MAX_SIDE
               for d in packed.values())  # fmt: skip
