"""k8s/ is the chart rendered for kubectl users: it must not drift from the chart."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from k8s.generate import BASE, LOCUST, render_base, render_locust

ROOT = Path(__file__).resolve().parents[2]


def test_the_kustomize_base_matches_the_chart() -> None:
    expected = render_base()
    actual = {p.name: p.read_text() for p in BASE.glob("*.yaml")}
    assert sorted(actual) == sorted(expected), "run `uv run python k8s/generate.py`"
    for name, text in expected.items():
        assert actual[name] == text, f"{name} drifted: run `uv run python k8s/generate.py`"


def test_the_locust_objects_match_the_chart() -> None:
    assert LOCUST.read_text() == render_locust(), "run `uv run python k8s/generate.py`"


def test_every_manifest_under_k8s_is_valid_kubernetes() -> None:
    checked = 0
    for path in (ROOT / "k8s").rglob("*.yaml"):
        if path.name == "kustomization.yaml":
            continue
        for obj in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(obj, "1.33.0", strict=True)
            checked += 1
    assert checked >= 20


def test_overlays_patch_objects_that_exist_in_the_base() -> None:
    base = {
        (obj["kind"], obj["metadata"]["name"])
        for path in BASE.glob("*.yaml")
        if path.name != "kustomization.yaml"
        for obj in [yaml.safe_load(path.read_text())]
    }
    images = {
        c["image"].split(":")[0]
        for kind, name in base
        if kind == "Deployment"
        for c in yaml.safe_load((BASE / f"deployment-{name}.yaml").read_text())["spec"]["template"][
            "spec"
        ]["containers"]
    }
    for overlay in ("dev", "prod"):
        kustomization = yaml.safe_load(
            (ROOT / "k8s/overlays" / overlay / "kustomization.yaml").read_text()
        )
        for resource in kustomization["resources"]:
            assert (ROOT / "k8s/overlays" / overlay / resource).exists()
        for patch in kustomization["patches"]:
            assert (patch["target"]["kind"], patch["target"]["name"]) in base
        assert {i["name"] for i in kustomization["images"]} == images


def test_the_load_test_runner_may_only_make_what_it_runs() -> None:
    objects = list(yaml.safe_load_all((ROOT / "k8s/loadtest/rbac.yaml").read_text()))
    (role,) = [o for o in objects if o["kind"] == "Role"]
    (binding,) = [o for o in objects if o["kind"] == "RoleBinding"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "facematch"
    assert binding["subjects"][0]["namespace"] == "facematch-loadtest"
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert "*" not in verbs and "escalate" not in verbs and "update" not in verbs
    granted = {
        (g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    resource = {
        "ConfigMap": ("", "configmaps"),
        "Service": ("", "services"),
        "Job": ("batch", "jobs"),
        "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
    }
    runs = {resource[o["kind"]] for o in yaml.safe_load_all(LOCUST.read_text()) if o}
    # and the faces ConfigMap and admin Secret it makes itself
    assert runs | {("", "secrets")} <= granted
