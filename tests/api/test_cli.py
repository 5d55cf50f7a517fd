from pathlib import Path

from redis import Redis
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app
from core.models import Photo, User
from core.queue import JobQueue
from tests.helpers import create_event, create_user, image_bytes

runner = CliRunner()


def test_create_user_makes_an_account_with_the_role(session: Session) -> None:
    result = runner.invoke(
        app,
        [
            "create-user",
            "--email",
            "Pat@Example.com",
            "--password",
            "long enough pw",
            "--role",
            "photographer",
        ],
    )
    assert result.exit_code == 0, result.output
    user = session.exec(select(User)).one()
    assert (user.email, user.role) == ("pat@example.com", "photographer")


def test_create_user_refuses_a_taken_email(session: Session) -> None:
    create_user(session, email="pat@example.com")
    result = runner.invoke(
        app, ["create-user", "--email", "pat@example.com", "--password", "long enough pw"]
    )
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_import_photos_stores_and_queues_every_image_and_reports_the_rest(
    session: Session, redis: Redis, tmp_path: Path
) -> None:
    event = create_event(session, owner=create_user(session))
    (tmp_path / "nested").mkdir()
    (tmp_path / "a.jpg").write_bytes(image_bytes())
    (tmp_path / "nested" / "b.png").write_bytes(image_bytes(fmt="PNG"))
    (tmp_path / "readme.txt").write_text("not a photo")
    result = runner.invoke(app, ["import-photos", event.code.lower(), str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 photo(s)" in result.output
    assert "readme.txt: not_an_image" in result.output
    assert sorted(p.filename for p in session.exec(select(Photo)).all()) == ["a.jpg", "b.png"]
    assert JobQueue(redis).depths()["photos"] == 2


def test_import_photos_into_an_unknown_event_fails(session: Session, tmp_path: Path) -> None:
    result = runner.invoke(app, ["import-photos", "ACD-EFG", str(tmp_path)])
    assert result.exit_code == 1
