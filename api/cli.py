"""The `facematch` command line: what production runs (api, worker, migrate) and an
operator's commands against its database. Development tooling is `facematch-dev`
(devtools/cli.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.models import Role

app = typer.Typer(
    help="facematch: find every attendee's photos at an event by their face.", no_args_is_help=True
)


@app.command()
def api(
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    host: Annotated[str, typer.Option(envvar="HOST")] = "0.0.0.0",
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    uvicorn.run(
        "api.main:app", host=host, port=port, workers=workers, proxy_headers=False, access_log=False
    )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context) -> None:
    """Run one single-threaded worker process (replaces this process: PID 1 stays PID 1)."""
    # exec, not import: this CLI is part of the API package, which never loads the face engine.
    argv = [sys.executable, "-m", "workers", *ctx.args]
    os.execv(sys.executable, argv)


@app.command()
def migrate(revision: str = "head") -> None:
    """Apply the database migrations."""
    from core.migrate import run_migrations
    from core.process import set_process_role

    set_process_role("migrate")
    run_migrations(revision)
    typer.echo(f"database at {revision}")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    role: Annotated[Role, typer.Option()] = Role.photographer,
    name: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create an account (admin, photographer or attendee)."""
    from api.errors import AppError
    from api.users.schemas import UserCreate
    from api.users.service import create_user as create
    from core.db import session_scope

    try:
        with session_scope() as session:
            user = create(
                session, UserCreate(email=email, password=password, role=role, full_name=name)
            )
    except AppError as exc:
        typer.secho(f"error: {exc.detail}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created {user.role.value} {user.email} ({user.id})")


@app.command("import-photos")
def import_photos(
    event_code: str,
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
    recursive: bool = True,
) -> None:
    """Bulk-import a folder of photos into an event, with a progress bar."""
    from rich.progress import Progress

    from api.errors import AppError
    from api.events.service import get_event_by_code
    from api.photos.service import store_photo
    from core.db import session_scope
    from core.storage import get_storage

    with session_scope() as session:
        event = get_event_by_code(session, event_code)
    if event is None:
        typer.secho(f"no event has the code {event_code!r}", fg="red", err=True)
        raise typer.Exit(1)
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in directory.glob(pattern) if p.is_file() and not p.name.startswith("."))
    storage = get_storage()
    imported, skipped, refused = 0, 0, []
    with Progress() as progress:
        task = progress.add_task(f"importing into {event.code}", total=len(files))
        for path in files:
            try:
                # One transaction per file: an interrupted import keeps what it finished, and
                # running it again skips those (the same bytes are the same photo).
                with session_scope() as session:
                    _, duplicate = store_photo(
                        session, storage, event, path.name, path.read_bytes()
                    )
                skipped += duplicate
                imported += not duplicate
            except AppError as exc:
                refused.append(f"{path}: {exc.code} ({exc.detail})")
            progress.advance(task)
    typer.echo(
        f"imported {imported} photo(s) into {event.code}; skipped {skipped} already there;"
        f" refused {len(refused)}"
    )
    for line in refused:
        typer.echo(f"  refused {line}")


@app.command()
def upload(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
    event: Annotated[str, typer.Option("--event", help="the event's code, e.g. K7Q-4MZ")],
    url: Annotated[str, typer.Option(envvar="FACEMATCH_URL")] = "http://localhost:8000",
    email: Annotated[str | None, typer.Option(envvar="FACEMATCH_EMAIL")] = None,
    password: Annotated[str | None, typer.Option(envvar="FACEMATCH_PASSWORD")] = None,
    token: Annotated[str | None, typer.Option(envvar="FACEMATCH_TOKEN")] = None,
    watch: Annotated[
        float | None, typer.Option(help="keep looking for new files every SECONDS")
    ] = None,
    recursive: bool = True,
) -> None:
    """Upload a folder to an event over the API, hashes first: only files the event does
    not have are sent, so running it again after an interruption resumes it."""
    import time

    from api.upload_client import Client, UploadError, photo_files, settled
    from api.upload_client import upload as send

    client = Client(url, token=token)
    try:
        if token is None:
            if email is None:
                email = typer.prompt("email")
            client.sign_in(email, password or typer.prompt("password", hide_input=True))
        event_id = client.event_id(event)
    except UploadError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None

    def report(path: Path, outcome: str) -> None:
        if outcome != "known":
            typer.echo(f"{outcome:<9} {path}")

    seen: dict[Path, tuple[int, float, float]] = {}
    done: set[Path] = set()
    refused: list[str] = []
    while True:
        files = [p for p in photo_files(directory, recursive=recursive) if p not in done]
        ready = settled(files, seen) if watch else files
        tally = send(client, event_id, ready, on_file=report)
        done.update(ready)
        refused += tally.refused
        typer.echo(
            f"{tally.files} file(s): {tally.known} on the event already, {tally.accepted} sent,"
            f" {tally.duplicates} duplicate(s), {len(tally.refused)} refused"
        )
        if not watch:
            break
        time.sleep(watch)
    if refused:
        raise typer.Exit(1)


@app.command()
def reconcile(
    forever: Annotated[
        bool, typer.Option(help="keep running: a pass every RECONCILE_INTERVAL_SECONDS")
    ] = False,
) -> None:
    """Re-enqueue photos, selfies and rematches whose jobs were lost: one pass, or
    `--forever` (the reconciler's Deployment; SIGTERM stops it between passes)."""
    import signal
    import threading

    from api.reconciler.service import reconcile_once, run_forever
    from core.config import settings
    from core.logs import configure
    from core.process import set_process_role

    set_process_role("reconciler")
    if not forever:
        report = reconcile_once()
        typer.echo(
            "another reconciler holds the lock; nothing done"
            if report.skipped_locked
            else f"reconciled: {len(report.enqueued)} enqueued, {len(report.gave_up)} given up"
        )
        return
    configure(settings.LOG_LEVEL, settings.LOG_FORMAT, library_level=settings.LIBRARY_LOG_LEVEL)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_forever(settings.RECONCILE_INTERVAL_SECONDS, stop)


if __name__ == "__main__":
    app()
