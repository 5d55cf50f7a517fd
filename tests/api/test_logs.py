"""JSON logs with a request id that follows into jobs; no secret or face encoding in any line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlmodel import Session

from core.logs import JsonFormatter, job_id, redact, request_id
from tests.helpers import (
    PASSWORD,
    SELFIES,
    create_event,
    create_user,
    face_photo,
    register_attendee,
    run_jobs,
    token_headers,
)

ENCODING = [round(0.001 * i - 0.05, 6) for i in range(128)]


def test_redaction_removes_tokens_passwords_and_vectors() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXZhbHVl"
    lines = {
        f"Authorization: Bearer {token}": "Authorization: Bearer [token]",
        f"token={token}&x=1": "token=[token]&x=1",
        'body {"password": "hunter2!"}': 'body {"password": [redacted]}',
        "form username=a@b.c&password=hunter2&x=": "form username=a@b.c&password=[redacted]&x=",
        f"encoding {ENCODING} stored": "encoding [vector] stored",
        "box 10, 20, 30, 40 at 0.55": "box 10, 20, 30, 40 at 0.55",
    }  # fmt: skip
    for line, expected in lines.items():
        assert redact(line) == expected


def test_each_answer_has_a_request_id_and_a_sane_one_is_kept(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    hostile = client.get("/healthz", headers={"X-Request-ID": "x" * 65})
    assert hostile.headers["x-request-id"] != "x" * 65


def test_a_job_carries_the_id_of_the_request_that_enqueued_it(
    client: TestClient, session: Session, redis: Redis
) -> None:
    from workers.worker import job_context

    create_user(session, email="p@example.com")
    headers = token_headers(client, "p@example.com")
    event = client.post("/api/events", json={"name": "Gala"}, headers=headers).json()
    response = client.post(
        f"/api/photographer/events/{event['id']}/rematch",
        headers={**headers, "X-Request-ID": "req-42"},
    )
    job = Job.fetch(response.json()["job_id"], connection=redis, serializer=JSONSerializer)
    assert job.meta["request_id"] == "req-42"
    with job_context(job):
        assert (request_id.get(), job_id.get()) == ("req-42", job.id)
    assert (request_id.get(), job_id.get()) == (None, None)


def test_log_lines_are_json_with_the_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client.get("/api/users/me", headers={"X-Request-ID": "req-7"})
    [record] = [r for r in caplog.records if r.name == "facematch.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/users/me", 401)
    assert line["duration_ms"] >= 0


@pytest.mark.faces
def test_a_whole_flow_logs_no_secret_and_no_encoding(
    client: TestClient,
    session: Session,
    redis: Redis,
    faces_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    event = create_event(session, owner=create_user(session, email="p@example.com"))
    staff = token_headers(client, "p@example.com")
    client.post("/api/auth/token", data={"username": "p@example.com", "password": "wrong!"})
    attendee = register_attendee(client, event.code)
    client.post(
        "/api/upload-selfie",
        files={"file": ("me.jpg", face_photo(SELFIES["obama"]))},
        headers=attendee["headers"],
    )
    run_jobs(redis)
    client.get("/api/me/photos", headers=attendee["headers"])
    client.delete("/api/me/face-data", headers=attendee["headers"])

    assert caplog.records, "the flow logged nothing at all"
    formatter = JsonFormatter()
    secrets = [PASSWORD, "wrong!", staff["Authorization"].split()[1], attendee["access_token"]]
    for record in caplog.records:
        for text in (record.getMessage(), formatter.format(record)):
            assert not any(secret in text for secret in secrets), text
            assert "$argon2" not in text, text
            assert redact(text) == text, f"an encoding or token reached a log: {text[:200]}"
