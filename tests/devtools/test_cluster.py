"""`facematch-dev cluster status` against recorded Kubernetes API responses, over real HTTP.

No cluster runs here: a loopback server answers the three list calls with the
JSON in tests/fixtures/k8s/, and the real `kubernetes` client talks to it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

from devtools import cluster

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s"
ROUTES = {
    "/api/v1/namespaces/facematch/pods": "pods.json",
    "/apis/autoscaling/v2/namespaces/facematch/horizontalpodautoscalers": "hpas.json",
    "/apis/keda.sh/v1alpha1/namespaces/facematch/scaledobjects": "scaledobjects.json",
}


def _server(routes: dict[str, str]) -> tuple[ThreadingHTTPServer, list[str]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            fixture = routes.get(urlparse(self.path).path)
            body = (FIXTURES / fixture).read_bytes() if fixture else b'{"kind":"Status","code":404}'
            self.send_response(200 if fixture else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.fixture
def api_client(request: pytest.FixtureRequest) -> Iterator[tuple[object, list[str]]]:
    from kubernetes import client

    routes = getattr(request, "param", ROUTES)
    server, seen = _server(routes)
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
    with client.ApiClient(configuration) as api:
        yield api, seen
    server.shutdown()
    server.server_close()


def test_status_lists_worker_pods_autoscalers_and_keda(api_client) -> None:  # type: ignore[no-untyped-def]
    api, seen = api_client
    status = cluster.collect("facematch", api)
    assert any("labelSelector=app.kubernetes.io/component%3Dworker" in p for p in seen), seen
    pods = {p.name: p for p in status.workers}
    assert pods["facematch-worker-bulk-7d9c8b6f5-2xkqp"].ready is True
    stuck = pods["facematch-worker-bulk-7d9c8b6f5-9wz4m"]
    assert (stuck.phase, stuck.ready, stuck.restarts) == ("Pending", False, 2)
    assert pods["facematch-worker-interactive-5f6d7c9b8-k2lmn"].pool == "interactive"
    hpa, keda = status.scalers
    assert (hpa.kind, hpa.current, hpa.desired, hpa.min, hpa.max) == ("HPA", 3, 4, 2, 10)
    assert hpa.detail == "cpu 88%"
    assert keda.kind == "KEDA" and "rq:queue:photos" in keda.detail and "active=True" in keda.detail
    text = cluster.render(status)
    assert "not ready" in text and "replicas 3/4" in text and "Redis not reachable" in text


@pytest.mark.parametrize(
    "api_client",
    [{k: v for k, v in ROUTES.items() if "keda" not in k}],
    indirect=True,
)
def test_a_cluster_without_keda_still_reports(api_client) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_client
    status = cluster.collect("facematch", api)
    assert [s.kind for s in status.scalers] == ["HPA"]
    assert len(status.workers) == 3
