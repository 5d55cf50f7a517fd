"""Regenerate k8s/base from the Helm chart, so the two never drift (a test checks).

    uv run python k8s/generate.py

The base is the chart rendered with its defaults as release `facematch` in
namespace `facematch`; the overlays and the load-test RBAC are written by hand.
`k8s/loadtest/locust.yaml` is the chart's Locust objects (`loadtest.enabled`),
which `facematch-dev loadtest --in-cluster` creates and deletes itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "facematch"
BASE = ROOT / "k8s" / "base"
LOCUST = ROOT / "k8s" / "loadtest" / "locust.yaml"
HEADER = "# Generated from charts/facematch by k8s/generate.py; do not edit.\n"


def _objects(values: dict[str, Any], under: str = "") -> list[dict[str, Any]]:
    """The chart's objects as release `facematch` from templates under `under`, unmarked."""
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name="facematch", namespace="facematch")
    objects = []
    for template, text in sorted(manifests.items()):
        if not template.endswith(".yaml") or "/tests/" in template or under not in template:
            continue
        for obj in yaml.safe_load_all(text):
            if obj:
                _strip_helm(obj)
                objects.append(obj)
    return objects


def render_locust() -> str:
    objects = _objects({"loadtest": {"enabled": True}}, under="/loadtest/")
    return HEADER + yaml.safe_dump_all(objects, sort_keys=False)


def render_base() -> dict[str, str]:
    """File name -> YAML text of every object, the kustomization included."""
    files: dict[str, str] = {}
    for obj in _objects({}):
        name = f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        files[name] = HEADER + yaml.safe_dump(obj, sort_keys=False)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "facematch",
        "resources": sorted(files),
    }
    files["kustomization.yaml"] = HEADER + yaml.safe_dump(kustomization, sort_keys=False)
    return files


def _strip_helm(obj: dict[str, Any]) -> None:
    """Helm's own labels and hook annotations mean nothing to kubectl."""
    for meta in (obj["metadata"], obj.get("spec", {}).get("template", {}).get("metadata", {})):
        labels = meta.get("labels", {})
        labels.pop("helm.sh/chart", None)
        if labels.get("app.kubernetes.io/managed-by") == "Helm":
            labels["app.kubernetes.io/managed-by"] = "kustomize"
        annotations = meta.get("annotations", {})
        for key in [k for k in annotations if k.startswith("helm.sh/")]:
            del annotations[key]
        if "annotations" in meta and not annotations:
            del meta["annotations"]


def main() -> int:
    files = render_base()
    for stale in BASE.glob("*.yaml"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (BASE / name).write_text(text)
    LOCUST.write_text(render_locust())
    print(f"wrote {len(files)} files to {BASE.relative_to(ROOT)}, and {LOCUST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
