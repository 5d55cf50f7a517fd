"""`facematch-dev cluster status`: what the workers, the autoscalers and the queues are doing.

Talks to the Kubernetes API with the official client (kubeconfig, or the pod's
service account in a cluster) and to Redis for the queue depths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKER_SELECTOR = "app.kubernetes.io/component=worker"


@dataclass
class WorkerPod:
    name: str
    pool: str
    phase: str
    ready: bool
    restarts: int


@dataclass
class Scaler:
    kind: str
    """HPA or KEDA."""
    name: str
    current: int | None
    desired: int | None
    min: int | None
    max: int | None
    detail: str


@dataclass
class ClusterStatus:
    namespace: str
    workers: list[WorkerPod] = field(default_factory=list)
    scalers: list[Scaler] = field(default_factory=list)
    queues: dict[str, int] | None = None


def load_client_config(context: str | None = None) -> None:
    from kubernetes import config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config(context=context)


def collect(namespace: str, api_client: Any = None) -> ClusterStatus:
    from kubernetes import client

    # Any: the responses are read defensively, field by field, whatever the client's stubs say.
    core: Any = client.CoreV1Api(api_client)
    autoscaling: Any = client.AutoscalingV2Api(api_client)
    custom: Any = client.CustomObjectsApi(api_client)
    status = ClusterStatus(namespace)

    for pod in core.list_namespaced_pod(namespace, label_selector=WORKER_SELECTOR).items:
        statuses = pod.status.container_statuses or []
        status.workers.append(
            WorkerPod(
                name=pod.metadata.name,
                pool=(pod.metadata.labels or {}).get("facematch.io/pool", "?"),
                phase=pod.status.phase or "?",
                ready=bool(statuses) and all(s.ready for s in statuses),
                restarts=sum(s.restart_count for s in statuses),
            )
        )

    for hpa in autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace).items:
        metrics = []
        for metric in hpa.status.current_metrics or []:
            if metric.resource and metric.resource.current:
                metrics.append(
                    f"{metric.resource.name} {metric.resource.current.average_utilization}%"
                )
        status.scalers.append(
            Scaler(
                "HPA",
                hpa.metadata.name,
                hpa.status.current_replicas,
                hpa.status.desired_replicas,
                hpa.spec.min_replicas,
                hpa.spec.max_replicas,
                ", ".join(metrics) or "no metrics yet",
            )
        )

    try:
        scaled = custom.list_namespaced_custom_object(
            "keda.sh", "v1alpha1", namespace, "scaledobjects"
        )
    except client.ApiException as exc:
        if exc.status != 404:  # KEDA not installed
            raise
        scaled = {"items": []}
    for obj in scaled.get("items", []):
        conditions = {
            c["type"]: c.get("status") for c in obj.get("status", {}).get("conditions", [])
        }
        triggers = ", ".join(
            t["metadata"].get("listName", t["type"]) for t in obj["spec"]["triggers"]
        )
        ready, active = conditions.get("Ready", "?"), conditions.get("Active", "?")
        detail = f"ready={ready} active={active} on {triggers}"
        status.scalers.append(
            Scaler(
                "KEDA",
                obj["metadata"]["name"],
                None,
                None,
                obj["spec"].get("minReplicaCount"),
                obj["spec"].get("maxReplicaCount"),
                detail,
            )
        )
    return status


def render(status: ClusterStatus) -> str:
    lines = [f"namespace {status.namespace}", "", "worker pods:"]
    if not status.workers:
        lines.append("  (none)")
    for w in sorted(status.workers, key=lambda w: (w.pool, w.name)):
        ready = "ready" if w.ready else "not ready"
        lines.append(f"  {w.pool:12} {w.name:48} {w.phase:9} {ready:9} restarts {w.restarts}")
    lines += ["", "autoscalers:"]
    if not status.scalers:
        lines.append("  (none)")
    for s in status.scalers:
        replicas = f"{s.current}/{s.desired}" if s.current is not None else "-"
        lines.append(
            f"  {s.kind:4} {s.name:40} replicas {replicas:7} [{s.min}..{s.max}]  {s.detail}"
        )
    lines += ["", "queues:"]
    if status.queues is None:
        lines.append("  (Redis not reachable from here; pass --redis-url)")
    else:
        lines += [f"  {name:12} {depth}" for name, depth in status.queues.items()]
    return "\n".join(lines)
