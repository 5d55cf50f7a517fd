"""The `facematch` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.models import Role

app = typer.Typer(
    help="facematch: find every attendee's photos at an event by their face.", no_args_is_help=True
)


@app.command()
def dev(
    port: Annotated[int, typer.Option(envvar="PORT", help="HTTP port")] = 8000,
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(envvar="WORKERS", min=0, help="worker processes")] = 2,
) -> None:
    """Run the whole platform locally: Postgres, Valkey, API and workers."""
    from api import devstack

    devstack.run(host=host, port=port, workers=workers)


@app.command()
def api(
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    host: Annotated[str, typer.Option(envvar="HOST")] = "0.0.0.0",
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    uvicorn.run(
        "api.main:app", host=host, port=port, workers=workers, proxy_headers=True, access_log=False
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
    from api.cli_support import run_migrations
    from api.process import set_process_role

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
    from api.auth.schemas import UserCreate
    from api.auth.service import create_user as create
    from api.db import session_scope
    from api.errors import AppError

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

    from api.db import session_scope
    from api.errors import AppError
    from api.events.codes import normalize_code
    from api.events.repository import get_event_by_code
    from api.photos.service import store_photo
    from api.storage import get_storage

    code = normalize_code(event_code)
    with session_scope() as session:
        event = get_event_by_code(session, code) if code else None
    if event is None:
        typer.secho(f"no event has the code {event_code!r}", fg="red", err=True)
        raise typer.Exit(1)
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in directory.glob(pattern) if p.is_file() and not p.name.startswith("."))
    storage = get_storage()
    imported, refused = 0, []
    with Progress() as progress:
        task = progress.add_task(f"importing into {event.code}", total=len(files))
        for path in files:
            try:
                # One transaction per file: an interrupted import keeps what it finished.
                with session_scope() as session:
                    store_photo(session, storage, event, path.name, path.read_bytes())
                imported += 1
            except AppError as exc:
                refused.append(f"{path}: {exc.code} ({exc.detail})")
            progress.advance(task)
    typer.echo(f"imported {imported} photo(s) into {event.code}; refused {len(refused)}")
    for line in refused:
        typer.echo(f"  refused {line}")


@app.command()
def reconcile() -> None:
    """Re-enqueue photos, selfies and rematches whose jobs were lost (one pass)."""
    from api.main import reconcile_once

    reconcile_once()
    typer.echo("reconciled")


cluster_app = typer.Typer(help="Look at a facematch deployment in Kubernetes.")
app.add_typer(cluster_app, name="cluster")


@cluster_app.command("status")
def cluster_status(
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "facematch",
    context: Annotated[str | None, typer.Option(help="kubeconfig context")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis for queue depths")] = None,
) -> None:
    """Worker pods, HPA or KEDA state, and queue depths."""
    from redis import Redis

    from api import cluster
    from api.queue import JobQueue

    cluster.load_client_config(context)
    status = cluster.collect(namespace)
    if redis_url:
        status.queues = JobQueue(Redis.from_url(redis_url, socket_connect_timeout=2)).depths()
    typer.echo(cluster.render(status))


@app.command()
def loadtest(
    in_cluster: Annotated[
        bool, typer.Option("--in-cluster", help="run Locust as Jobs next to the deployed API")
    ] = False,
    users: Annotated[int, typer.Option(min=1)] = 300,
    spawn_rate: Annotated[float, typer.Option(min=0.1)] = 10,
    duration: Annotated[str, typer.Option(help="e.g. 5m")] = "5m",
    workers: Annotated[int, typer.Option(min=1, help="Locust worker pods / local workers")] = 2,
    photos: Annotated[int, typer.Option(min=0, help="photos each photographer uploads")] = 1000,
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "facematch",
    release: Annotated[str, typer.Option(help="the Helm release of the app")] = "facematch",
    context: Annotated[str | None, typer.Option(help="kubeconfig context")] = None,
    admin_email: Annotated[str, typer.Option(envvar="LOADTEST_ADMIN_EMAIL")] = "",
    admin_password: Annotated[str, typer.Option(envvar="LOADTEST_ADMIN_PASSWORD")] = "",
    faces: Annotated[Path, typer.Option(help="the shared face photos")] = Path(
        "../shared/testdata/faces"
    ),
    out: Annotated[Path, typer.Option(help="where the results go")] = Path("loadtest/results"),
    keep: Annotated[bool, typer.Option(help="leave the Jobs for inspection")] = False,
    prepare_only: Annotated[
        bool, typer.Option(help="only make the faces ConfigMap and admin Secret (skaffold's hook)")
    ] = False,
) -> None:
    """Load-test a deployment: locally as `make loadtest` does, or in the cluster."""
    if not in_cluster:
        argv = [sys.executable, "-m", "loadtest.run", "--users", str(users), "--spawn-rate",
                str(spawn_rate), "--duration", duration, "--workers", str(workers),
                "--photos", str(photos)]  # fmt: skip
        os.execv(sys.executable, argv)
    from datetime import UTC, datetime

    from api import cluster, loadtest_cluster

    if not (admin_email and admin_password):
        raise typer.BadParameter("--admin-email and --admin-password (or LOADTEST_ADMIN_*)")
    if not (faces / "identities.csv").is_file():
        raise typer.BadParameter(f"no identities.csv under {faces}", param_hint="--faces")
    cluster.load_client_config(context)
    run = loadtest_cluster.Run(
        namespace=namespace, users=users, spawn_rate=spawn_rate, duration=duration,
        workers=workers, photos=photos, admin_email=admin_email,
        admin_password=admin_password, release=release,
    )  # fmt: skip
    packed = loadtest_cluster.pack_faces(loadtest_cluster.identities_from(faces))
    if prepare_only:
        for obj in loadtest_cluster.inputs(run, packed):
            loadtest_cluster.Cluster().replace(obj)
            typer.echo(f"made {obj['kind']} {obj['metadata']['name']}")
        return
    folder = out / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-cluster-u{users}"
    try:
        files = loadtest_cluster.run_in_cluster(
            run, packed, folder, cluster=loadtest_cluster.Cluster(), progress=typer.echo, keep=keep
        )
    except loadtest_cluster.LoadTestFailed as exc:
        typer.echo(f"load test failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{len(files)} result files in {folder}")


if __name__ == "__main__":
    app()
