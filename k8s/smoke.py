"""`make cluster-smoke`: the chart's Deployments in real containers, under their limits.

    sudo make cluster-smoke        (root: podman runs rootful here)

No Kubernetes API server runs on these machines, so podman stands in for the
kubelet (`podman kube play`, see ../shared/docs/podman.md):

1. installs podman, runc and debootstrap from Debian if they are missing;
2. builds the base images with debootstrap (no registry is reachable), then
   the api and worker images from their Containerfiles, offline, from wheels
   downloaded on the host; Debian's PostgreSQL + pgvector and Redis stand in
   for the chart's datastore images;
3. renders the chart (dev datastores, one replica each, images built here);
4. runs the Postgres and Redis Deployments, the migration Job's pod, then the
   api, worker and reconciler Deployments, all on the host network (podman has no
   Services), with the rendered CPU and memory limits enforced by cgroups;
5. drives the product through the API: a photographer uploads event photos,
   an attendee registers and uploads a selfie of someone in them, and sees
   exactly the photos they are in;
6. checks the worker stayed inside its memory limit (cgroup peak, no OOM kill,
   no restart), prints what it measured, and tears everything down.

It takes minutes, so it is kept out of `make test`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import helm_python as helm
import httpx
import yaml
from packaging.markers import Marker

from loadtest.stack import join_event

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "facematch"
WORK = ROOT / ".smoke"
FACES = Path(os.environ.get("FACEMATCH_FACES", ROOT.parent / "shared" / "testdata" / "faces"))
RELEASE = "smoke"
BASE = "localhost/facematch-smoke-base:bookworm"
DATASTORES = "localhost/facematch-smoke-datastores:trixie"
IMAGES = {
    "api": ("api/Containerfile", "localhost/facematch-api:dev", BASE),
    "worker": ("workers/Containerfile", "localhost/facematch-worker:dev", BASE),
    "postgres": ("k8s/smoke/Containerfile.postgres", "localhost/fm-smoke-postgres:dev", DATASTORES),
    "redis": ("k8s/smoke/Containerfile.redis", "localhost/fm-smoke-redis:dev", DATASTORES),
}
ROOTFS = {
    BASE: ("bookworm", "python3,python3-venv,ca-certificates"),
    # bookworm has no pgvector package; trixie has PostgreSQL 17 with it.
    DATASTORES: ("trixie", "postgresql-17,postgresql-17-pgvector,redis-server,passwd"),
}
API_PORT = 8000
KNN = "ageitgey_face_recognition/examples/knn_examples"
EVENT_PHOTOS = {
    "obama_and_biden.jpg": f"{KNN}/test/obama_and_biden.jpg",
    "kit_with_rose.jpg": f"{KNN}/test/kit_with_rose.jpg",
    "obama.jpg": "ageitgey_face_recognition/examples/obama.jpg",
    "friends.jpg": "pypi_insightface/t1.jpg",
}
NO_FACE_LIBRARY = (
    "import importlib.util, sys; found = [m for m in ('dlib', 'face_recognition', 'cv2') "
    "if importlib.util.find_spec(m)]; print('face libraries:', found or 'none'); "
    "sys.exit(bool(found))"
)
SELFIE = "ageitgey_face_recognition/examples/obama2.jpg"
EXPECTED = {"obama_and_biden.jpg", "obama.jpg"}


def say(message: str) -> None:
    print(f"== {message}", flush=True)


def sh(*argv: str, check: bool = True, capture: bool = False, **kwargs: Any) -> str:
    result = subprocess.run(argv, check=check, text=True, capture_output=capture, **kwargs)
    return result.stdout if capture else ""


def podman(*argv: str, check: bool = True, capture: bool = False) -> str:
    return sh("podman", *argv, check=check, capture=capture)


def ensure_tools() -> None:
    missing = [t for t in ("podman", "runc", "debootstrap") if shutil.which(t) is None]
    if missing:
        say(f"installing {', '.join(missing)} from Debian")
        sh("apt-get", "update", "-q")
        sh("apt-get", "install", "-y", "-q", "podman", "buildah", "runc", "debootstrap")
    WORK.mkdir(exist_ok=True)
    (WORK / "containers.conf").write_text(
        '[containers]\ndefault_ulimits = ["nofile=16384:16384", "nproc=8192:8192"]\n'
        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    (WORK / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\nrunroot = "{WORK}/run"\ngraphroot = "{WORK}/storage"\n'
    )
    os.environ["CONTAINERS_CONF"] = str(WORK / "containers.conf")
    os.environ["CONTAINERS_STORAGE_CONF"] = str(WORK / "storage.conf")


def has_image(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name]).returncode == 0


def build_images() -> None:
    for image, (suite, packages) in ROOTFS.items():
        if has_image(image):
            continue
        say(f"debootstrap {image} (a minute or two)")
        rootfs = WORK / f"rootfs-{image.rsplit('/', 1)[1].split(':')[0]}"
        shutil.rmtree(rootfs, ignore_errors=True)
        sh("debootstrap", "--variant=minbase", f"--include={packages}", suite, str(rootfs))
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        sh("podman", "import", "-", image, stdin=tar.stdout)
        tar.wait()
        shutil.rmtree(rootfs, ignore_errors=True)
    say("wheels for the images (host download, offline builds)")
    sh("make", "-s", "requirements", cwd=ROOT)
    # uv's virtual environment has no pip; uv runs one of its own.
    pip = [shutil.which("uv") or "uv", "tool", "run", "--from", "pip", "pip"]
    requirements = [
        "-r",
        str(ROOT / "api/requirements.txt"),
        "-r",
        str(ROOT / "workers/requirements.txt"),
    ]
    sh(*pip, "download", "--quiet", "--only-binary=:all:", "--no-deps",
       "-d", str(ROOT / ".wheels"), *requirements)  # fmt: skip
    # Markers were judged for this host's Python; Debian's 3.11.2 needs more
    # (async-timeout: `python_full_version < '3.11.3'`).
    image_python = {"python_full_version": "3.11.2", "python_version": "3.11"}
    extra = sorted(
        {
            requirement
            for name in ("api/requirements.txt", "workers/requirements.txt")
            for line in (ROOT / name).read_text().splitlines()
            if ";" in line
            for requirement, marker in [(part.strip() for part in line.split(";", 1))]
            if Marker(marker).evaluate(image_python) and not Marker(marker).evaluate()
        }
    )
    if extra:
        sh(*pip, "download", "--quiet", "--only-binary=:all:", "--no-deps",
           "-d", str(ROOT / ".wheels"), *extra)  # fmt: skip
    for containerfile, tag, base in IMAGES.values():
        say(f"build {tag}")
        podman(
            "build",
            "--quiet",
            "-f",
            containerfile,
            "-t",
            tag,
            "--build-arg",
            f"BASE_IMAGE={base}",
            str(ROOT),
        )


def smoke_values() -> dict[str, Any]:
    def image(name: str) -> dict[str, str]:
        repository, tag = IMAGES[name][1].split(":")
        return {"repository": repository, "tag": tag, "pullPolicy": "Never"}

    return {
        "api": {"image": image("api"), "autoscaling": {"enabled": False}, "replicaCount": 1},
        "worker": {
            "image": image("worker"),
            "autoscaling": {"enabled": False},
            "pools": [
                {
                    "name": "all",
                    "queues": ["selfies", "emails", "digests", "photos", "maintenance"],
                    "replicaCount": 1,
                    "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
                }
            ],
        },
        "reconciler": {"replicaCount": 1},
        "redis": {"enabled": True, "image": IMAGES["redis"][1]},
        "postgresql": {"enabled": True, "image": IMAGES["postgres"][1], "size": "1Gi"},
        "secrets": {"create": True},
        "config": {"publicUrl": f"http://127.0.0.1:{API_PORT}"},
    }


def render() -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(smoke_values(), name=RELEASE, namespace="facematch")
    return [
        obj
        for template, text in manifests.items()
        if template.endswith(".yaml") and "/tests/" not in template
        for obj in yaml.safe_load_all(text)
        if obj
    ]


def for_podman(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Group what podman can run; Services become 127.0.0.1, the migration Job a Pod."""
    services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    text = yaml.safe_dump_all(objects)
    for service in sorted(services, key=len, reverse=True):
        text = text.replace(f"@{service}:", "@127.0.0.1:").replace(f"//{service}:", "//127.0.0.1:")
    objects = list(yaml.safe_load_all(text))
    groups: dict[str, list[dict[str, Any]]] = {
        "setup": [],
        "datastores": [],
        "migrate": [],
        "app": [],
    }
    for obj in objects:
        kind, component = obj["kind"], obj["metadata"]["labels"].get("app.kubernetes.io/component")
        if kind in ("ConfigMap", "Secret", "PersistentVolumeClaim"):
            groups["setup"].append(obj)
        elif kind == "StatefulSet":  # podman plays Deployments: claim templates become PVCs
            pod = obj["spec"]["template"]["spec"]
            for claim in obj["spec"].pop("volumeClaimTemplates", []):
                name = f"{claim['metadata']['name']}-{obj['metadata']['name']}"
                claimed = {"name": name}
                groups["setup"].append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                        "metadata": claimed, "spec": claim["spec"]})  # fmt: skip
                pod.setdefault("volumes", []).append(
                    {
                        "name": claim["metadata"]["name"],
                        "persistentVolumeClaim": {"claimName": name},
                    }
                )
            obj["kind"] = "Deployment"
            obj["spec"].pop("serviceName", None)
            obj["spec"].pop("podManagementPolicy", None)
            _host_network(pod)
            obj["spec"]["replicas"] = 1
            groups["datastores"].append(obj)
        elif kind == "Deployment":
            pod = obj["spec"]["template"]["spec"]
            _host_network(pod)
            obj["spec"]["replicas"] = 1
            groups["datastores" if component in ("redis", "postgresql") else "app"].append(obj)
        elif kind == "Job" and component == "migrate":
            template = obj["spec"]["template"]
            pod_spec = {**template["spec"], "restartPolicy": "Never"}
            _host_network(pod_spec)
            groups["migrate"].append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": obj["metadata"]["name"],
                        "labels": template["metadata"].get("labels", {}),
                    },
                    "spec": pod_spec,
                }
            )
    secrets = {
        o["metadata"]["name"]: o.get("stringData", {})
        | {k: base64.b64decode(v).decode() for k, v in o.get("data", {}).items()}
        for o in groups["setup"]
        if o["kind"] == "Secret"
    }
    groups["setup"] = [o for o in groups["setup"] if o["kind"] != "Secret"]
    for obj in groups["datastores"] + groups["migrate"] + groups["app"]:
        pod = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
        _secrets_as_files(pod, secrets)
        _empty_dirs_as_folders(pod, obj["metadata"]["name"])
    return groups


def _empty_dirs_as_folders(pod: dict[str, Any], owner: str) -> None:
    """emptyDirs become fresh world-writable host folders: podman 4.3 makes them
    root-owned and ignores fsGroup, so the pods' uid 10001 could not write them."""
    for volume in pod.get("volumes", []):
        if "emptyDir" not in volume:
            continue
        del volume["emptyDir"]
        folder = WORK / "empty-dirs" / f"{owner}-{volume['name']}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        folder.chmod(0o1777)
        volume["hostPath"] = {"path": str(folder), "type": "Directory"}


def _secrets_as_files(pod: dict[str, Any], secrets: dict[str, dict[str, str]]) -> None:
    """Secret volumes become read-only host folders: podman 4.3 crashes on secret volumes
    whose Secret came from another `kube play` (a nil secrets manager)."""
    for volume in pod.get("volumes", []):
        if "secret" not in volume:
            continue
        source = volume.pop("secret")
        values = secrets[source["secretName"]]
        items = source.get("items") or [{"key": k, "path": k} for k in values]
        folder = WORK / "secrets" / f"{source['secretName']}-{volume['name']}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for item in items:
            (folder / item["path"]).write_text(values[item["key"]])
            (folder / item["path"]).chmod(0o444)
        volume["hostPath"] = {"path": str(folder), "type": "Directory"}


def _host_network(pod: dict[str, Any]) -> None:
    """Host networking (podman has no Services); port mappings are refused with it,
    so declared ports go and probes name their port by number."""
    pod["hostNetwork"] = True
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        numbers = {p["name"]: p["containerPort"] for p in container.pop("ports", []) if "name" in p}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            action = container.get(probe, {}).get("httpGet") or container.get(probe, {}).get(
                "tcpSocket"
            )
            if action and isinstance(action.get("port"), str):
                action["port"] = numbers[action["port"]]


def play(name: str, objects: list[dict[str, Any]], config_maps: list[dict[str, Any]]) -> Path:
    """`podman kube play` a group; pods see ConfigMaps only in their file or via --configmap."""
    path = WORK / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    flags = []
    if config_maps and name != "setup":
        maps = WORK / "configmaps.yaml"
        maps.write_text(yaml.safe_dump_all(config_maps, sort_keys=False))
        flags = ["--configmap", str(maps)]
    podman("kube", "play", "--quiet", *flags, str(path))
    return path


def containers() -> list[dict[str, Any]]:
    return json.loads(podman("ps", "--all", "--format", "json", capture=True) or "[]")


def container(prefix: str) -> dict[str, Any]:
    found = [c for c in containers() if any(n.startswith(prefix) for n in c["Names"])]
    if not found:
        raise SystemExit(f"no container named {prefix}*")
    return found[0]


def wait(what: str, check: Any, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2)
    raise SystemExit(f"timed out waiting for {what}")


def exited(name: str) -> int | None:
    c = container(name)
    return int(c["ExitCode"]) if c["State"] == "exited" else None


def drive_the_product(base: str, admin_password: str) -> dict[str, Any]:
    client = httpx.Client(base_url=base, timeout=60)
    token = client.post(
        "/api/auth/token", data={"username": "admin@smoke.example.com", "password": admin_password}
    )
    admin = {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}
    event = client.post("/api/events", json={"name": "smoke"}, headers=admin).raise_for_status()
    event_id, code = event.json()["id"], event.json()["code"]
    files = [("files", (n, (FACES / p).read_bytes())) for n, p in EVENT_PHOTOS.items()]
    uploaded = client.post(f"/api/events/{event_id}/photos", files=files, headers=admin)
    filenames = {r["id"]: r["filename"] for r in uploaded.raise_for_status().json()["data"]}

    def indexed() -> bool:
        progress = client.get(f"/api/events/{event_id}", headers=admin).json()["progress"]
        return progress["photos_indexed"] + progress["photos_failed"] == len(EVENT_PHOTOS)

    started = time.monotonic()
    wait("the photos to be indexed", indexed, timeout=600)
    index_seconds = time.monotonic() - started
    # The link is mailed; the smoke test has no mailbox, so it asks as an admin's support would.
    attendee = join_event(client.post, "", code, "obama@smoke.example.com", admin, "Barack")
    selfie = (FACES / SELFIE).read_bytes()
    started = time.monotonic()
    client.post(
        "/api/upload-selfie", files={"file": ("selfie.jpg", selfie)}, headers=attendee
    ).raise_for_status()
    wait("the selfie verdict", lambda: _selfie_status(client, attendee) != "pending")
    selfie_seconds = time.monotonic() - started
    mine = client.get("/api/me/photos", headers=attendee).json()
    names = {filenames[p["id"]] for p in mine["data"]}
    if names != EXPECTED:
        raise SystemExit(f"my photos are {sorted(names)}, expected {sorted(EXPECTED)}")
    return {
        "photos": len(EVENT_PHOTOS),
        "index_seconds": round(index_seconds, 1),
        "selfie_seconds": round(selfie_seconds, 1),
        "my_photos": sorted(names),
    }


def _selfie_status(client: httpx.Client, headers: dict[str, str]) -> str:
    return str(client.get("/api/me/selfie", headers=headers).json()["status"])


def memory(name: str) -> dict[str, Any]:
    """cgroup v2 or v1 memory peak and limit of a container, its CPU limit, and whether
    it was OOM-killed."""
    inspect = json.loads(podman("inspect", name, capture=True))[0]
    pid, host = inspect["State"]["Pid"], inspect["HostConfig"]
    cgroup = Path("/proc") / str(pid) / "cgroup"
    lines = cgroup.read_text().splitlines() if pid else []
    v2 = next((line.split("::", 1)[1] for line in lines if line.startswith("0::")), None)
    v1 = next((line.split(":", 2)[2] for line in lines if ":memory:" in line), None)
    peak = limit = None
    if v1 and Path(f"/sys/fs/cgroup/memory{v1}").is_dir():
        folder = Path(f"/sys/fs/cgroup/memory{v1}")
        peak = int((folder / "memory.max_usage_in_bytes").read_text())
        limit = int((folder / "memory.limit_in_bytes").read_text())
    elif v2 and Path(f"/sys/fs/cgroup{v2}").is_dir():
        folder = Path(f"/sys/fs/cgroup{v2}")
        peak_file = folder / "memory.peak"
        peak = (
            int(peak_file.read_text())
            if peak_file.exists()
            else int((folder / "memory.current").read_text())
        )
        raw = (folder / "memory.max").read_text().strip()
        limit = None if raw == "max" else int(raw)
    return {
        "peak_mib": round(peak / 2**20) if peak else None,
        "limit_mib": round(limit / 2**20) if limit else None,
        "cpu_limit": round(host["CpuQuota"] / host["CpuPeriod"], 2) if host["CpuQuota"] else None,
        "oom_killed": inspect["State"]["OOMKilled"],
        "restarts": inspect.get("RestartCount", 0),
    }


def teardown(played: list[Path], volumes: list[str]) -> None:
    """Pods first, then the PVCs' volumes, which `kube down` keeps."""
    for path in reversed(played):
        podman("kube", "down", str(path), check=False, capture=True)
    # a play that failed half-way leaves pods `kube down` does not know about
    pods = podman("pod", "ls", "--format", "{{.Name}}", check=False, capture=True).split()
    for pod in pods:
        if pod.startswith(f"{RELEASE}-"):
            podman("pod", "rm", "--force", pod, check=False, capture=True)
    for volume in volumes:
        podman("volume", "rm", "--force", volume, check=False, capture=True)


def main() -> int:
    if os.geteuid() != 0:
        print("cluster-smoke runs podman rootful: run it as root", file=sys.stderr)
        return 2
    if not FACES.is_dir():
        print(f"the shared face photos are not at {FACES}", file=sys.stderr)
        return 2
    ensure_tools()
    build_images()
    say("the API image holds no face library")
    podman("run", "--rm", "--entrypoint", "python", IMAGES["api"][1], "-c", NO_FACE_LIBRARY)
    groups = for_podman(render())
    admin_password = base64.b64encode(os.urandom(12)).decode()
    config_maps = [o for o in groups["setup"] if o["kind"] == "ConfigMap"]
    groups["setup"] = [o for o in groups["setup"] if o["kind"] != "ConfigMap"]
    volumes = [
        o["metadata"]["name"] for o in groups["setup"] if o["kind"] == "PersistentVolumeClaim"
    ]
    leftovers = [WORK / f"{name}.yaml" for name in groups if (WORK / f"{name}.yaml").exists()]
    teardown(leftovers, volumes)  # an interrupted earlier run
    played: list[Path] = []
    try:
        say("datastores")
        played.append(play("setup", groups["setup"], config_maps))
        played.append(play("datastores", groups["datastores"], config_maps))
        wait("postgres", _postgres_ready)
        say("migrations (the hook Job, as a pod)")
        played.append(play("migrate", groups["migrate"], config_maps))
        migrate = f"{RELEASE}-facematch-migrate"
        wait("the migrations", lambda: exited(migrate) is not None, timeout=300)
        if exited(migrate) != 0:
            podman("logs", container(migrate)["Names"][0], check=False)
            raise SystemExit("the migrations failed")
        say("api, worker and reconciler")
        played.append(play("app", groups["app"], config_maps))
        base = f"http://127.0.0.1:{API_PORT}"
        wait("the API's /readyz", lambda: _ready(base), timeout=180)
        api = container(f"{RELEASE}-facematch-api")["Names"][0]
        podman(
            "exec",
            api,
            "python",
            "-m",
            "api.cli",
            "create-user",
            "--email",
            "admin@smoke.example.com",
            "--password",
            admin_password,
            "--role",
            "admin",
        )
        say("the product, through the API")
        flow = drive_the_product(base, admin_password)
        worker = container(f"{RELEASE}-facematch-worker")["Names"][0]
        result = {
            "flow": flow,
            "worker_memory": memory(worker),
            "api_memory": memory(api),
            "reconciler_memory": memory(container(f"{RELEASE}-facematch-reconciler")["Names"][0]),
        }
        print(json.dumps(result, indent=2))
        wm = result["worker_memory"]
        if (
            wm["oom_killed"]
            or wm["restarts"]
            or (wm["peak_mib"] and wm["limit_mib"] and wm["peak_mib"] > wm["limit_mib"])
        ):
            raise SystemExit("the worker left its memory limit")
        say("cluster smoke passed")
        return 0
    finally:
        teardown(played, volumes)


def _postgres_ready() -> bool:
    name = container(f"{RELEASE}-facematch-postgresql")["Names"][0]
    out = sh("podman", "exec", name, "pg_isready", "-h", "127.0.0.1", check=False, capture=True)
    return out.strip().endswith("accepting connections")


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
