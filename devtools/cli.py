"""`facematch-dev`: the local stack, and tooling that looks at or loads a cluster."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="facematch's development tools: the local stack, cluster status, load tests.",
    no_args_is_help=True,
)


@app.command()
def up(
    port: Annotated[int, typer.Option(envvar="PORT", help="HTTP port")] = 8000,
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(envvar="WORKERS", min=0, help="worker processes")] = 2,
) -> None:
    """Run the whole platform locally: Postgres, Valkey, API and workers."""
    from devtools import devstack

    devstack.run(host=host, port=port, workers=workers)


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

    from core.queue import JobQueue
    from devtools import cluster

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

    from devtools import cluster, loadtest_cluster

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
