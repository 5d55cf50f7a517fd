from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth.security import TokenClaims, create_access_token
from core.models import Role
from tests.helpers import PASSWORD, create_user, token_headers


def test_login_returns_a_bearer_token(client: TestClient, session: Session) -> None:
    user = create_user(session, email="ann@example.com")
    headers = token_headers(client, "ANN@example.com")
    me = client.get("/api/users/me", headers=headers).json()
    assert me["id"] == str(user.id)
    assert me["role"] == "photographer"
    assert "hashed_password" not in me


def test_login_with_a_wrong_password_is_401_with_a_json_error(
    client: TestClient, session: Session
) -> None:
    create_user(session, email="ann@example.com")
    response = client.post(
        "/api/auth/token", data={"username": "ann@example.com", "password": "wrong password"}
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "incorrect email or password",
        "code": "bad_credentials",
    }


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client: TestClient) -> None:
    response = client.post(
        "/api/auth/token", data={"username": "x@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "bad_credentials"


def test_passwords_are_stored_as_argon2id(session: Session) -> None:
    user = create_user(session)
    assert user.hashed_password.startswith("$argon2id$")
    assert PASSWORD not in user.hashed_password


def test_an_expired_token_is_refused(client: TestClient, session: Session) -> None:
    user = create_user(session)
    expired = datetime.now(UTC) - timedelta(minutes=1)
    token = create_access_token(TokenClaims(user.id, Role.photographer), expires=expired)
    response = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_a_forged_token_is_refused(client: TestClient, session: Session) -> None:
    import jwt

    user = create_user(session)
    forged = jwt.encode(
        {"sub": str(user.id), "role": "admin", "exp": 4102444800},
        "a-guessed-secret-that-is-long-enough!",
        "HS256",
    )
    response = client.get("/api/users/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_no_token_is_401(client: TestClient) -> None:
    response = client.get("/api/users/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
