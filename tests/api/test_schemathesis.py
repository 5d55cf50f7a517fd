"""Generated requests from the OpenAPI spec, as anonymous, attendee, photographer and admin:
no answer is a server error."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.main import create_app

app = create_app()
# From the app's own spec: loading it over ASGI at import would start the app
# before the test services exist.
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app


@pytest.fixture
def callers(client: TestClient, session) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from tests.helpers import create_event, create_user, register_attendee, token_headers

    create_user(session, email="admin@example.com", role="admin")
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    attendee = register_attendee(client, event.code)
    return {
        "anonymous": {},
        "attendee": attendee["headers"],
        "photographer": token_headers(client, "p@example.com"),
        "admin": token_headers(client, "admin@example.com"),
    }


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_is_a_server_error(case, callers) -> None:  # type: ignore[no-untyped-def]
    for headers in callers.values():
        case.call_and_validate(headers=headers, checks=[not_a_server_error])
