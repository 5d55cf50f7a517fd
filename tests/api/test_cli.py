import contextlib
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


def _photos(folder: Path, names: list[str]) -> None:
    for n, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes(color=(n * 23 % 256, n * 57 % 256, 90)))


def test_upload_sends_only_what_the_event_lacks_and_resumes_after_an_interruption(
    session: Session, live_api: str, tmp_path: Path, monkeypatch
) -> None:
    from api import upload_client
    from tests.helpers import PASSWORD

    create_user(session, email="pat@example.com")
    event = create_event(session, owner=session.exec(select(User)).one())
    _photos(tmp_path, [f"card/DSC_{n:04}.JPG" for n in range(6)] + ["card/sub/late.jpeg"])
    (tmp_path / "card" / "notes.txt").write_text("not a photo")
    client = upload_client.Client(live_api)
    client.sign_in("pat@example.com", PASSWORD)
    files = upload_client.photo_files(tmp_path)
    assert len(files) == 7

    # The first run dies after its third photo (a pulled cable, a closed laptop).
    real, posted = client.request, []

    def flaky(method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
        if path.endswith("/photos"):
            if len(posted) == 3:
                raise ConnectionError("the cable was pulled")
            posted.append(path)
        return real(method, path, **kwargs)

    monkeypatch.setattr(client, "request", flaky)
    with contextlib.suppress(ConnectionError):
        upload_client.upload(client, client.event_id(event.code), files)
    assert len(posted) == 3

    args = ["upload", str(tmp_path), "--event", event.code.lower(), "--url", live_api,
            "--email", "pat@example.com", "--password", PASSWORD]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "7 file(s): 3 on the event already, 4 sent" in result.output
    again = runner.invoke(app, args)
    assert "7 file(s): 7 on the event already, 0 sent" in again.output
    session.expire_all()
    assert len(session.exec(select(Photo)).all()) == 7


def test_upload_to_an_event_that_is_not_yours_fails(
    session: Session, live_api: str, tmp_path: Path
) -> None:
    from tests.helpers import PASSWORD

    create_user(session, email="pat@example.com")
    other = create_event(session, owner=create_user(session))
    args = ["upload", str(tmp_path), "--event", other.code, "--url", live_api,
            "--email", "pat@example.com", "--password", PASSWORD]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "no event of yours" in result.output


def test_a_watched_folder_sends_a_file_once_the_camera_has_finished_writing_it(
    tmp_path: Path, monkeypatch
) -> None:
    from api import upload_client

    clock = [100.0]
    monkeypatch.setattr(upload_client.time, "monotonic", lambda: clock[0])
    seen: dict = {}
    done, writing = tmp_path / "DSC_0001.JPG", tmp_path / "DSC_0002.JPG"
    done.write_bytes(b"a whole photo")
    writing.write_bytes(b"half")
    assert upload_client.settled([done, writing], seen) == []  # first seen now
    clock[0] += upload_client.SETTLE_SECONDS
    writing.write_bytes(b"half a photo, and more")  # still being written
    assert upload_client.settled([done, writing], seen) == [done]
    clock[0] += upload_client.SETTLE_SECONDS
    assert upload_client.settled([done, writing], seen) == [done, writing]
