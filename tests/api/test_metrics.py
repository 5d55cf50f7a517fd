"""Prometheus metrics: requests by route template, queues, jobs and workers' memory."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from sqlmodel import Session

from core.config import settings
from core.metrics import WORKER_STALE_SECONDS, record_job, record_reconcile, record_worker_memory
from core.queue import JobQueue, index_photo
from tests.helpers import create_event, create_user, new_id


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_requests_are_counted_by_route_template_not_by_id(client: TestClient) -> None:
    for _ in range(3):
        client.get(f"/api/events/{new_id()}")
    samples = _samples(client)
    key = (("method", "GET"), ("route", "/api/events/{event_id}"), ("status", "401"))
    assert samples[("facematch_http_requests_total", key)] == 3
    assert not any(str(new_id())[:8] in str(labels) for _, labels in samples)
    count = ("facematch_http_request_duration_seconds_count",
             (("method", "GET"), ("route", "/api/events/{event_id}")))  # fmt: skip
    assert samples[count] == 3
    client.get("/wp-admin/setup.php")
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert _samples(client)[("facematch_http_requests_total", unmatched)] == 1


def test_queue_depths_and_failures_come_from_redis(
    client: TestClient, session: Session, redis: Redis
) -> None:
    create_event(session, owner=create_user(session))
    JobQueue(redis).enqueue(index_photo(new_id()))
    samples = _samples(client)
    assert samples[("facematch_queue_depth", (("queue", "photos"),))] == 1
    assert samples[("facematch_queue_depth", (("queue", "selfies"),))] == 0
    assert samples[("facematch_queue_failed_jobs", (("queue", "photos"),))] == 0


def test_job_durations_and_failures_are_per_job_type(client: TestClient, redis: Redis) -> None:
    record_job(redis, "workers.tasks.index_photo", 0.3, ok=True)
    record_job(redis, "workers.tasks.index_photo", 4.0, ok=False)
    record_job(redis, "workers.tasks.validate_selfie", 0.7, ok=True)
    samples = _samples(client)
    photo = (("job", "index_photo"),)
    assert samples[("facematch_job_duration_seconds_count", photo)] == 2
    assert samples[("facematch_job_duration_seconds_sum", photo)] == pytest.approx(4.3)
    assert (
        samples[("facematch_job_duration_seconds_bucket", (("job", "index_photo"), ("le", "0.5")))]
        == 1
    )
    assert (
        samples[("facematch_job_duration_seconds_bucket", (("job", "index_photo"), ("le", "+Inf")))]
        == 2
    )
    assert samples[("facematch_job_failures", photo)] == 1
    assert samples[("facematch_job_failures", (("job", "validate_selfie"),))] == 0


def test_live_workers_memory_is_shown_and_gone_ones_dropped(
    client: TestClient, redis: Redis
) -> None:
    record_worker_memory(redis, "pod-a.1", 300_000_000, 410_000_000)
    stale = f"{time.time() - WORKER_STALE_SECONDS - 5:.0f} 1 1"
    redis.hset("facematch:metrics:workers", "gone.2", stale)
    samples = _samples(client)
    assert (
        samples[("facematch_worker_rss_bytes", (("process", "worker"), ("worker", "pod-a.1")))]
        == 3e8
    )
    assert (
        samples[("facematch_worker_rss_bytes", (("process", "horse_peak"), ("worker", "pod-a.1")))]
        == 4.1e8
    )
    assert not any(dict(labels).get("worker") == "gone.2" for _, labels in samples)
    assert redis.hget("facematch:metrics:workers", "gone.2") is None


def test_the_reconcilers_passes_are_shown_for_alerting(client: TestClient, redis: Redis) -> None:
    assert ("facematch_reconciler_last_pass_timestamp_seconds", ()) not in _samples(client)
    before = time.time() - 0.001  # the pass's time is stored to the millisecond
    record_reconcile(redis, enqueued=3, gave_up=0)
    record_reconcile(redis, enqueued=1, gave_up=2)
    samples = _samples(client)
    assert (
        before <= samples[("facematch_reconciler_last_pass_timestamp_seconds", ())] <= time.time()
    )
    assert samples[("facematch_reconciler_passes_total", ())] == 2
    assert samples[("facematch_reconciler_enqueued_total", ())] == 4
    assert samples[("facematch_reconciler_gave_up_total", ())] == 2


def test_a_scrape_token_guards_the_metrics_when_set(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "METRICS_TOKEN", "s3cret-scrape-token")
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert right.status_code == 200


def test_in_cluster_mode_there_are_no_metrics_without_a_token(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart's default has no token: the Ingress must not publish queue depths and
    request counts to the internet."""
    monkeypatch.setattr(settings, "MODE", "cluster")
    response = client.get("/metrics")
    assert (response.status_code, response.json()["code"]) == (404, "metrics_off")
    monkeypatch.setattr(settings, "METRICS_TOKEN", "s3cret-scrape-token")
    right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert right.status_code == 200
