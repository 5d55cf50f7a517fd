"""The chart, checked offline: Helm's own engine renders it, kubernetes-validate,
the KEDA CRD schemas and checkov judge the output. No API server is needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from core.config import Settings
from core.queue import LONGEST_JOB_SECONDS, QUEUE_NAMES
from tests.helpers import SHARED

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "facematch"
KUBERNETES_VERSION = "1.33.0"
CHECKOV = "checkov==3.3.30"
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())

PROFILES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "keda": {"worker": {"autoscaling": {"keda": {"enabled": True, "redisAddress": "redis:6379"}}}},
    "dev-datastores": {
        "redis": {"enabled": True},
        "postgresql": {"enabled": True},
        "secrets": {"create": True},
        "api": {
            "ingress": {"enabled": True, "tls": {"enabled": True}},
            "trustedProxies": ["10.42.0.0/16"],
        },
    },
    "external-s3": {
        "storage": {
            "backend": "s3",
            "s3": {
                "bucket": "photos",
                "endpointUrl": "https://s3.example.com",
                "credentialsFromSecret": True,
            },
        },
        "worker": {"autoscaling": {"keda": {"enabled": True, "redisAddress": "redis.db:6379"}}},
    },
    "loadtest": {
        "loadtest": {"enabled": True, "users": 50, "workers": 3},
        "redis": {"enabled": True},
        "postgresql": {"enabled": True},
        "secrets": {"create": True},
    },
    "metrics": {
        "metrics": {
            "tokenSecretKey": "metrics-token",
            "podAnnotations": True,
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        },
        "api": {"ingress": {"enabled": True}, "trustedProxies": ["10.42.0.0/16", "fd00::/8"]},
        "mail": {"smtp": {"host": "smtp.example.com"}},
    },
    "dev-reload": {
        "devReload": True,
        "redis": {"enabled": True},
        "postgresql": {"enabled": True},
        "secrets": {"create": True},
    },
    "fixed-replicas": {
        "api": {"autoscaling": {"enabled": False}, "replicaCount": 3},
        "worker": {"autoscaling": {"enabled": False}},
        "storage": {"pvc": {"existingClaim": "shared-photos"}},
    },
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name="fm", namespace="facematch")
    return [
        doc
        for name, text in manifests.items()
        if name.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


@pytest.fixture(scope="module", params=list(PROFILES))
def profile(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(PROFILES[request.param])


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]
    pod = spec if obj["kind"] == "Pod" else spec["template"]["spec"]
    return pod.get("initContainers", []) + pod["containers"]


def test_every_object_passes_strict_kubernetes_validation(profile) -> None:  # type: ignore[no-untyped-def]
    _, objects = profile
    crds = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}
    for obj in objects:
        if obj["kind"] not in crds:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_keda_objects_match_the_crd_schema(profile) -> None:  # type: ignore[no-untyped-def]
    name, objects = profile
    scaled = of_kind(objects, "ScaledObject")
    assert bool(scaled) == (name in ("keda", "external-s3"))
    if not scaled:
        return
    crd_path = SHARED / "schemas" / "keda.sh_scaledobjects.yaml"
    if not crd_path.exists():
        pytest.skip(f"KEDA schemas not found at {crd_path}")
    schema = yaml.safe_load(crd_path.read_text())["spec"]["versions"][0]["schema"][
        "openAPIV3Schema"
    ]
    for obj in scaled:
        jsonschema.validate(obj, schema)
        lists = {t["metadata"]["listName"] for t in obj["spec"]["triggers"]}
        assert lists <= {f"rq:queue:{q}" for q in QUEUE_NAMES}
    assert not of_kind(objects, "HorizontalPodAutoscaler") or all(
        h["spec"]["scaleTargetRef"]["name"].endswith("-api")
        for h in of_kind(objects, "HorizontalPodAutoscaler")
    )


def test_every_container_has_requests_limits_and_a_hardened_context(profile) -> None:  # type: ignore[no-untyped-def]
    _, objects = profile
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job", "Pod"):
            continue
        pod = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in containers(obj):
            assert set(container["resources"]) == {"requests", "limits"}, obj["metadata"]["name"]
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]


def test_deployments_omit_replicas_when_autoscaling(profile) -> None:  # type: ignore[no-untyped-def]
    name, objects = profile
    for deployment in of_kind(objects, "Deployment"):
        component = deployment["metadata"]["labels"].get("app.kubernetes.io/component")
        if component in ("api", "worker"):
            assert ("replicas" in deployment["spec"]) == (name == "fixed-replicas")


def test_workers_outlive_their_longest_job_and_need_no_http() -> None:
    objects = render({})
    workers = [
        d
        for d in of_kind(objects, "Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    ]
    assert {w["metadata"]["labels"]["facematch.io/pool"] for w in workers} == {
        "interactive",
        "bulk",
    }
    for worker in workers:
        pod = worker["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > LONGEST_JOB_SECONDS
        (container,) = pod["containers"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert "exec" in container[probe] and "httpGet" not in container[probe]
        assert "ports" not in container
    interactive = next(
        w for w in workers if w["metadata"]["labels"]["facematch.io/pool"] == "interactive"
    )
    # Only the selfie pool keeps big events' faces in memory, and has the memory for it.
    cache = {
        w["metadata"]["labels"]["facematch.io/pool"]: {
            e["name"]: e.get("value") for e in w["spec"]["template"]["spec"]["containers"][0]["env"]
        }["FACEMATCH_FACE_CACHE_MAX_FACES"]
        for w in workers
    }
    assert cache == {"interactive": "1000000", "bulk": "0"}
    limits = {
        w["metadata"]["labels"]["facematch.io/pool"]: w["spec"]["template"]["spec"]["containers"][
            0
        ]["resources"]["limits"]["memory"]
        for w in workers
    }
    assert limits == {"interactive": "1280Mi", "bulk": "768Mi"}
    assert interactive["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "--queues",
        "selfies,emails",
    ], "a sign-in mail never waits behind bulk indexing"


def test_mail_settings_reach_the_pods_and_its_password_comes_from_the_secret() -> None:
    quiet = render({})
    notes_free = [
        o for o in quiet if o["kind"] == "ConfigMap" and "FACEMATCH_SMTP_HOST" in o["data"]
    ]
    assert notes_free[0]["data"]["FACEMATCH_SMTP_HOST"] == ""
    objects = render({"mail": {"smtp": {"host": "smtp.example.com", "port": 465,
                                        "security": "tls", "username": "facematch",
                                        "passwordFromSecret": True}}})  # fmt: skip
    config = next(
        o for o in objects if o["kind"] == "ConfigMap" and "FACEMATCH_SMTP_HOST" in o["data"]
    )
    assert {k: config["data"][k] for k in ("FACEMATCH_SMTP_HOST", "FACEMATCH_SMTP_PORT",
                                           "FACEMATCH_SMTP_SECURITY")} == {
        "FACEMATCH_SMTP_HOST": "smtp.example.com", "FACEMATCH_SMTP_PORT": "465",
        "FACEMATCH_SMTP_SECURITY": "tls"}  # fmt: skip
    rendered = json.dumps(objects)
    assert "smtp-password" in rendered and "FACEMATCH_SMTP_PASSWORD" in rendered
    egress = [rule for o in objects if o["kind"] == "NetworkPolicy"
              for rule in o["spec"].get("egress", [])]  # fmt: skip
    assert any({"port": 465, "protocol": "TCP"} in r.get("ports", []) for r in egress), "to SMTP"


def test_secrets_are_referenced_by_name_and_mounted_as_files() -> None:
    objects = render({})
    assert of_kind(objects, "Secret") == []
    api = next(
        d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == "fm-facematch-api"
    )
    volumes = {v["name"]: v for v in api["spec"]["template"]["spec"]["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == "facematch"
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["FACEMATCH_SECRETS_DIR"]["value"] == "/run/secrets/facematch"
    assert not any("valueFrom" in e for e in env.values())


def test_migrations_run_as_a_pre_install_hook() -> None:
    (job,) = of_kind(render({}), "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "migrate"


def test_the_reconciler_runs_in_its_own_pods_beside_no_api(tmp_path: Path) -> None:
    import subprocess
    import sys

    from api.reconciler.service import HEARTBEAT_FILE

    objects = render({"reconciler": {"intervalSeconds": 7}})
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d
                   for d in of_kind(objects, "Deployment")}  # fmt: skip
    reconciler = deployments["reconciler"]
    assert reconciler["spec"]["replicas"] == 2
    pod = reconciler["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    api_container = deployments["api"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == api_container["image"]  # no face library needed
    assert container["command"] == ["python", "-m", "api.cli", "reconcile", "--forever"]
    assert "ports" not in container
    assert pod["terminationGracePeriodSeconds"] <= 30
    (config,) = of_kind(objects, "ConfigMap")
    assert config["data"]["FACEMATCH_RECONCILE_INTERVAL_SECONDS"] == "7"
    (pdb,) = [p for p in of_kind(objects, "PodDisruptionBudget")
              if p["metadata"]["name"].endswith("-reconciler")]  # fmt: skip
    assert pdb["spec"]["minAvailable"] == 1
    # The probe reads the file the loop touches: run it here against a real file.
    probe = container["livenessProbe"]["exec"]["command"]
    assert probe[-2] == str(HEARTBEAT_FILE)
    heartbeat = tmp_path / "heartbeat"
    argv = [sys.executable, *probe[1:-2], str(heartbeat), probe[-1]]
    assert subprocess.run(argv, timeout=30).returncode == 1
    heartbeat.touch()
    assert subprocess.run(argv, timeout=30).returncode == 0


def test_webhooks_leave_from_the_pools_that_deliver_them_to_public_https_only() -> None:
    """The pools with the digests queue post events' webhooks (workers/jobs/webhooks.py): the
    worker policy alone would drop every delivery."""
    objects = render({})
    (config,) = of_kind(objects, "ConfigMap")
    data = config["data"]
    settings = Settings(**{k.removeprefix("FACEMATCH_"): v for k, v in data.items()
                           if k.startswith("FACEMATCH_WEBHOOK_")})  # fmt: skip
    # "false" wins over local mode's default (true): the value reaches the setting.
    assert (settings.WEBHOOK_PRIVATE_ADDRESSES, settings.WEBHOOK_TIMEOUT_SECONDS) == (False, 10)
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(objects, "NetworkPolicy")}
    webhooks = policies["fm-facematch-webhooks"]
    assert webhooks["policyTypes"] == ["Egress"], "a way out only, no way in"
    [pools] = webhooks["podSelector"]["matchExpressions"]
    delivering = [p["name"] for p in VALUES["worker"]["pools"] if "digests" in p["queues"]]
    assert pools == {"key": "facematch.io/pool", "operator": "In", "values": delivering}
    assert delivering == ["bulk"], "the interactive pool takes no digests and posts nothing"
    [rule] = webhooks["egress"]
    assert rule["ports"] == [{"port": 443, "protocol": "TCP"}]
    v4, v6 = (peer["ipBlock"] for peer in rule["to"])
    assert (v4["cidr"], v6["cidr"]) == ("0.0.0.0/0", "::/0")
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(v4["except"])
    assert {"fc00::/7", "fe80::/10"} <= set(v6["except"])

    receiver = {"ipBlock": {"cidr": "10.20.0.0/16"}}
    inside = render({"webhooks": {"privateAddresses": True, "egressPorts": [8443],
                                  "egressTo": [receiver]}})  # fmt: skip
    (config,) = of_kind(inside, "ConfigMap")
    assert config["data"]["FACEMATCH_WEBHOOK_PRIVATE_ADDRESSES"] == "true"
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(inside, "NetworkPolicy")}
    [rule] = policies["fm-facematch-webhooks"]["egress"]
    assert rule == {"to": [receiver], "ports": [{"port": 8443, "protocol": "TCP"}]}
    closed = render({"webhooks": {"egressTo": []}})
    assert "fm-facematch-webhooks" not in {
        p["metadata"]["name"] for p in of_kind(closed, "NetworkPolicy")
    }
    with pytest.raises(helm.HelmError):
        render({"webhooks": {"timeoutSeconds": 0}})


def test_network_policies_close_workers_and_open_the_api_to_the_ingress_only() -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(render({}), "NetworkPolicy")}
    worker = policies["fm-facematch-worker"]
    assert worker["ingress"] == []
    closed = worker["podSelector"]["matchExpressions"][0]["values"]
    assert set(closed) == {"worker", "migrate", "reconciler"}
    api = policies["fm-facematch-api"]
    assert [rule["ports"] for rule in api["ingress"]] == [[{"port": 8000, "protocol": "TCP"}]]
    egress_ports = {p["port"] for rule in worker["egress"] for p in rule["ports"]}
    assert egress_ports == {53, 5432, 6379}


@pytest.mark.parametrize(
    "name", ["defaults", "dev-datastores", "metrics", "external-s3", "loadtest"]
)
def test_every_egress_port_goes_to_named_destinations_only(name: str) -> None:
    """A port without `to:` reaches the whole internet and every pod in the cluster."""
    values = PROFILES[name]
    for policy in of_kind(render(values), "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), (policy["metadata"]["name"], rule["ports"])
            for peer in rule["to"]:
                block = peer.get("ipBlock")
                assert block is None or block["cidr"] != "0.0.0.0/0" or block.get("except"), peer
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(render(values), "NetworkPolicy")}
    rules = {
        rule["ports"][0]["port"]: rule["to"] for rule in policies["fm-facematch-api"]["egress"]
    }
    if name == "dev-datastores":
        assert rules[5432][0]["podSelector"]["matchExpressions"][0]["values"] == [
            "redis",
            "postgresql",
        ]
    if name == "metrics":  # an SMTP relay outside: no private network on its port
        assert "10.0.0.0/8" in rules[587][0]["ipBlock"]["except"]


def _ingress_and_config(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    objects = render(values)
    (ingress,) = of_kind(objects, "Ingress")
    (config,) = of_kind(objects, "ConfigMap")
    return ingress, config["data"]


def test_the_ingress_lets_through_every_body_the_api_accepts_and_no_more() -> None:
    """ingress-nginx refuses bodies over 1 MiB unless told: its limit is the API's largest."""
    from api.bodies import body_rules

    uploads = {"maxPhotoBytes": 30 * 2**20, "maxRequestBytes": 90 * 2**20,
               "maxSelfieBytes": 10 * 2**20}  # fmt: skip
    for values in (PROFILES["metrics"], {**PROFILES["metrics"], "config": {"uploads": uploads}}):
        ingress, data = _ingress_and_config(values)
        limit = int(
            ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
        )
        settings = Settings(
            **{k.removeprefix("FACEMATCH_"): v for k, v in data.items()
               if k.startswith("FACEMATCH_MAX_")}, SECRET_KEY="k" * 40,
        )  # fmt: skip
        largest = max(rule.limit for rule in body_rules(settings))
        assert limit == largest == settings.MAX_UPLOAD_REQUEST_BYTES
        assert limit > settings.MAX_UPLOAD_BYTES and limit > settings.MAX_SELFIE_BYTES
    assert limit == 90 * 2**20
    extra = {
        **PROFILES["metrics"],
        "api": {
            **PROFILES["metrics"]["api"],
            "ingress": {
                "enabled": True,
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            },
        },
    }
    annotations = _ingress_and_config(extra)[0]["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert "nginx.ingress.kubernetes.io/proxy-body-size" in annotations


def test_the_ingress_needs_its_proxies_named_and_never_a_wildcard() -> None:
    _, data = _ingress_and_config(PROFILES["metrics"])
    assert data["FACEMATCH_TRUSTED_PROXIES"] == "10.42.0.0/16,fd00::/8"
    with pytest.raises(helm.HelmError, match="trustedProxies"):
        render({"api": {"ingress": {"enabled": True}}})
    with pytest.raises(helm.HelmError):
        render({"api": {"ingress": {"enabled": True}, "trustedProxies": ["*"]}})


def test_every_pod_has_a_bounded_tmp(profile) -> None:  # type: ignore[no-untyped-def]
    """Bodies spool to /tmp: an emptyDir without a size limit could fill the node's disk."""
    _, objects = profile
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            volumes = {v["name"]: v for v in obj["spec"]["template"]["spec"].get("volumes", [])}
            if "tmp" in volumes:
                assert volumes["tmp"]["emptyDir"]["sizeLimit"], obj["metadata"]["name"]


def test_prometheus_scrapes_the_api_service_with_the_token_from_the_secret() -> None:
    objects = render(PROFILES["metrics"])
    (monitor,) = of_kind(objects, "ServiceMonitor")
    services = [
        s
        for s in of_kind(objects, "Service")
        if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert [s["metadata"]["name"] for s in services] == ["fm-facematch-api"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in services[0]["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "facematch", "key": "metrics-token"},
    }
    assert monitor["metadata"]["labels"]["release"] == "prometheus"

    # The API reads the same key as FACEMATCH_METRICS_TOKEN, the setting that guards /metrics.
    api = next(d for d in of_kind(objects, "Deployment") if d["metadata"]["name"].endswith("-api"))
    pod = api["spec"]["template"]
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "secrets")
    assert {"key": "metrics-token", "path": "FACEMATCH_METRICS_TOKEN"} in volume["secret"]["items"]
    assert "METRICS_TOKEN" in Settings.model_fields
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(
        pod["spec"]["containers"][0]["ports"][0]["containerPort"]
    )

    # The API's NetworkPolicy lets Prometheus's namespace in.
    policy = next(
        p["spec"]
        for p in of_kind(objects, "NetworkPolicy")
        if p["metadata"]["name"].endswith("-api")
    )
    sources = [peer for rule in policy["ingress"] for peer in rule["from"]]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    } in (sources)


def test_without_scraping_there_is_no_monitor_no_token_and_no_way_in_for_prometheus() -> None:
    objects = render({})
    assert of_kind(objects, "ServiceMonitor") == []
    api = next(d for d in of_kind(objects, "Deployment") if d["metadata"]["name"].endswith("-api"))
    volume = next(v for v in api["spec"]["template"]["spec"]["volumes"] if v["name"] == "secrets")
    assert all(i["path"] != "FACEMATCH_METRICS_TOKEN" for i in volume["secret"]["items"])
    assert not any(
        k.startswith("prometheus.io/") for k in api["spec"]["template"]["metadata"]["annotations"]
    )


def test_a_generated_secret_holds_a_metrics_token() -> None:
    (secret,) = of_kind(render(PROFILES["dev-datastores"]), "Secret")
    assert len(secret["stringData"]["metrics-token"]) == 32


def test_unknown_values_are_refused_by_the_schema() -> None:
    with pytest.raises(helm.HelmError):
        render({"worker": {"replicas": 3}})
    with pytest.raises(helm.HelmError):
        render(
            {
                "worker": {
                    "pools": [
                        {
                            "name": "x",
                            "queues": ["nope"],
                            "replicaCount": 1,
                            "autoscaling": {"minReplicas": 1, "maxReplicas": 2},
                        }
                    ]
                }
            }
        )


def test_helm_lint_strict_passes() -> None:
    report = helm.lint(str(CHART), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []


def _uv() -> str | None:
    return os.environ.get("UV") or shutil.which("uv")


@pytest.mark.parametrize("name", list(PROFILES))
def test_checkov_finds_no_failed_check(name: str, tmp_path: Path) -> None:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is needed to run checkov in its own environment")
    for i, obj in enumerate(render(PROFILES[name])):
        (tmp_path / f"{i:02d}-{obj['kind']}.yaml").write_text(yaml.safe_dump(obj))
    result = subprocess.run(
        [uv, "tool", "run", "--from", CHECKOV, "checkov", "-d", str(tmp_path),
         "--framework", "kubernetes", "--output", "json", "--skip-download"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 100
    for skipped in report["results"]["skipped_checks"]:
        assert skipped["check_result"].get("suppress_comment"), skipped["check_id"]


def test_skaffold_config_matches_its_schema() -> None:
    schema_path = SHARED / "schemas" / "skaffold-v4beta14.json"
    if not schema_path.exists():
        pytest.skip(f"the skaffold schema is not at {schema_path}")
    config, loadtest = yaml.safe_load_all((ROOT / "skaffold.yaml").read_text())
    validator = jsonschema.Draft7Validator(json.loads(schema_path.read_text()))
    for document in (config, loadtest):
        assert document["apiVersion"] == "skaffold/v4beta14"
        errors = list(validator.iter_errors(document))
        assert errors == [], [e.message for e in errors]
    # The load test is its own config that requires the app's.
    assert loadtest["requires"] == [{"configs": [config["metadata"]["name"]]}]
    for manifest in loadtest["manifests"]["rawYaml"]:
        assert (ROOT / manifest).is_file()
    assert [a["image"] for a in config["build"]["artifacts"]] == ["api", "worker"]
    templates = config["deploy"]["helm"]["releases"][0]["setValueTemplates"]
    assert templates["api.image.tag"] == "{{.IMAGE_TAG_api}}"
    for artifact in config["build"]["artifacts"]:
        assert (ROOT / artifact["docker"]["dockerfile"]).is_file()


def test_image_requirements_match_the_lock_and_the_api_has_no_face_library() -> None:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is needed to export the lock")
    for path, extra in (
        ("api/requirements.txt", []),
        ("workers/requirements.txt", ["--extra", "worker"]),
    ):
        exported = subprocess.run(
            [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project",
             "--no-header", *extra],
            capture_output=True, text=True, check=True, cwd=ROOT,
        ).stdout  # fmt: skip
        assert (ROOT / path).read_text() == exported, f"{path} is stale: run `make requirements`"
    api_packages = [
        line.split("==")[0].lower()
        for line in (ROOT / "api/requirements.txt").read_text().splitlines()
        if line and not line.startswith(" ")
    ]
    face = {"dlib", "dlib-bin", "face-recognition", "opencv-python-headless", "onnx", "onnxruntime",
            "rapidocr-onnxruntime", "opencv-python"}  # fmt: skip
    assert not face & set(api_packages)


def test_s3_storage_replaces_the_volume_and_opens_egress_to_the_store() -> None:
    objects = render(PROFILES["external-s3"])
    assert of_kind(objects, "PersistentVolumeClaim") == []
    (config,) = of_kind(objects, "ConfigMap")
    assert config["data"]["FACEMATCH_STORAGE_BACKEND"] == "s3"
    assert config["data"]["FACEMATCH_S3_BUCKET"] == "photos"
    worker = next(d for d in of_kind(objects, "Deployment") if "worker" in d["metadata"]["name"])
    volumes = {v["name"]: v for v in worker["spec"]["template"]["spec"]["volumes"]}
    assert "photos" not in volumes
    paths = {i["path"] for i in volumes["secrets"]["secret"]["items"]}
    assert "FACEMATCH_S3_SECRET_ACCESS_KEY" in paths
    policy = next(
        p for p in of_kind(objects, "NetworkPolicy") if p["metadata"]["name"].endswith("-worker")
    )
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert 443 in ports
    with pytest.raises(helm.HelmError):
        render({"storage": {"backend": "s3"}})  # a bucket is required
