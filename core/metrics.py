"""Prometheus metrics at `/metrics`.

- Requests, by method, route template and status, and their durations: counted
  in this process (the chart runs one uvicorn process per pod).
- Queue depths and failed jobs: read from Redis at scrape time.
- Job durations and failures per job type, and each worker's memory: written to
  Redis by the workers (`record_job`, `record_worker_memory`), so one scrape of
  any API pod sees the whole fleet. Sum them with max(), not sum(), across pods.
- The reconciler's passes and what they re-enqueued or gave up on, written by the
  reconciler (`record_reconcile`): alert when its last pass is minutes old.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis import Redis
from rq.registry import FailedJobRegistry

from core.queue import JobQueue

JOB_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Seconds; a selfie takes ~0.7 s, a 24 MP photo ~1.3 s, a big rematch minutes."""
_JOBS_KEY = "facematch:metrics:jobs"
_WORKERS_KEY = "facematch:metrics:workers"
_RECONCILER_KEY = "facematch:metrics:reconciler"
WORKER_STALE_SECONDS = 120
"""A worker that has not reported for this long is gone and is not shown."""


def record_job(redis: Redis, func: str, seconds: float, ok: bool) -> None:
    """Called by a worker after each job: one histogram observation and the outcome."""
    name = func.rsplit(".", 1)[-1]
    pipe = redis.pipeline()
    pipe.hincrby(_JOBS_KEY, f"{name}|count", 1)
    pipe.hincrbyfloat(_JOBS_KEY, f"{name}|sum", seconds)
    for bound in JOB_BUCKETS:
        if seconds <= bound:
            pipe.hincrby(_JOBS_KEY, f"{name}|le|{bound}", 1)
    if not ok:
        pipe.hincrby(_JOBS_KEY, f"{name}|failed", 1)
    pipe.execute()


def record_worker_memory(redis: Redis, worker: str, rss: int, horse_peak_rss: int) -> None:
    """Called on each worker heartbeat: its own RSS and its work horses' peak RSS, in bytes."""
    redis.hset(_WORKERS_KEY, worker, f"{time.time():.0f} {rss} {horse_peak_rss}")


def record_reconcile(redis: Redis, enqueued: int, gave_up: int) -> None:
    """Called by the reconciler after each pass it ran (not one it skipped on the lock)."""
    pipe = redis.pipeline()
    pipe.hset(_RECONCILER_KEY, "last_pass", f"{time.time():.3f}")
    pipe.hincrby(_RECONCILER_KEY, "passes", 1)
    pipe.hincrby(_RECONCILER_KEY, "enqueued", enqueued)
    pipe.hincrby(_RECONCILER_KEY, "gave_up", gave_up)
    pipe.execute()


class _FleetCollector(Collector):
    """What Redis knows at scrape time: queues, jobs across workers, workers' memory."""

    def __init__(self, redis: Callable[[], Redis]) -> None:
        self._redis = redis

    @property
    def redis(self) -> Redis:
        return self._redis()

    def collect(self) -> Iterator[Metric]:
        jobs = JobQueue(self.redis)
        depth = GaugeMetricFamily("facematch_queue_depth", "Jobs waiting", labels=["queue"])
        failed = GaugeMetricFamily(
            "facematch_queue_failed_jobs", "Jobs in the failed registry", labels=["queue"]
        )
        for name, queue in jobs.queues.items():
            depth.add_metric([name], queue.count)
            failed.add_metric([name], FailedJobRegistry(queue=queue).count)
        yield depth
        yield failed
        yield from self._jobs()
        yield self._workers()
        yield from self._reconciler()

    def _reconciler(self) -> Iterator[Metric]:
        raw = {k.decode(): float(v) for k, v in self.redis.hgetall(_RECONCILER_KEY).items()}
        if "last_pass" in raw:
            yield GaugeMetricFamily(
                "facematch_reconciler_last_pass_timestamp_seconds",
                "When the reconciler last completed a pass",
                value=raw["last_pass"],
            )
        for key, help_text in (
            ("passes", "Reconciler passes completed"),
            ("enqueued", "Jobs the reconciler enqueued again (lost, abandoned or overdue)"),
            ("gave_up", "Photos and selfies the reconciler gave up on after their last attempt"),
        ):
            yield CounterMetricFamily(
                f"facematch_reconciler_{key}", help_text, value=raw.get(key, 0.0)
            )

    def _jobs(self) -> Iterator[Metric]:
        raw = {k.decode(): v.decode() for k, v in self.redis.hgetall(_JOBS_KEY).items()}
        names = sorted({key.split("|", 1)[0] for key in raw})
        duration = HistogramMetricFamily(
            "facematch_job_duration_seconds", "Job run time by job type", labels=["job"]
        )
        failures = GaugeMetricFamily(
            "facematch_job_failures", "Jobs that raised, by job type (all time)", labels=["job"]
        )
        for name in names:
            buckets = [(str(b), float(raw.get(f"{name}|le|{b}", 0))) for b in JOB_BUCKETS]
            count = float(raw.get(f"{name}|count", 0))
            duration.add_metric(
                [name], [*buckets, ("+Inf", count)], sum_value=float(raw.get(f"{name}|sum", 0))
            )
            failures.add_metric([name], float(raw.get(f"{name}|failed", 0)))
        yield duration
        yield failures

    def _workers(self) -> Metric:
        rss = GaugeMetricFamily(
            "facematch_worker_rss_bytes",
            "Resident memory of each live worker, and the peak of its work horses",
            labels=["worker", "process"],
        )
        now = time.time()
        for worker, value in self.redis.hgetall(_WORKERS_KEY).items():
            at, own, horses = (float(x) for x in value.decode().split())
            if now - at > WORKER_STALE_SECONDS:
                self.redis.hdel(_WORKERS_KEY, worker)
                continue
            rss.add_metric([worker.decode(), "worker"], own)
            rss.add_metric([worker.decode(), "horse_peak"], horses)
        return rss


class Metrics:
    """This process's request metrics, plus the fleet's from Redis, in one registry."""

    def __init__(self, redis: Callable[[], Redis]) -> None:
        """`redis` gives the connection at scrape time; none is needed before."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "facematch_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "facematch_http_request_duration_seconds",
            "HTTP request duration by route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(_FleetCollector(redis))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def observe(self, scope: Mapping[str, Any], status: int, seconds: float) -> None:
        """One finished request, under its route template (ids would explode the labels)."""
        method, route = scope["method"], _template(scope)
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)


def _template(scope: Mapping[str, Any]) -> str:
    """The matched route's path with its parameters' names, e.g. /api/events/{event_id}.

    Rebuilt from the path and its parameters: FastAPI's `scope["route"]` is the
    route as its own router declared it, without the prefixes of the routers
    that include it (/events/{event_id}). Unmatched paths (scanners, typos) all
    count as one, so labels stay bounded.
    """
    if scope.get("route") is None:
        return "unmatched"
    names = {str(value): name for name, value in (scope.get("path_params") or {}).items()}
    return "/".join(
        f"{{{names[part]}}}" if part in names else part for part in scope["path"].split("/")
    )
