"""skaffold's dev profile: synced files land where the processes run, and they reload.

The chart is rendered with the values the profile sets; then the rendered API and
worker commands run here, in real processes, over a copy of a tiny code tree, and
a changed file must take effect."""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from devtools.local import free_port
from tests.charts.test_chart import ROOT, containers, of_kind, render


def _dev_profile() -> tuple[dict[str, Any], dict[str, Any]]:
    """skaffold.yaml's first config with the dev profile's patches applied, and the
    Helm values the release gets."""
    config, _ = yaml.safe_load_all((ROOT / "skaffold.yaml").read_text())
    (profile,) = [p for p in config["profiles"] if p["name"] == "dev"]
    for patch in profile["patches"]:
        assert patch["op"] == "add"
        *parents, last = patch["path"].strip("/").split("/")
        target = config
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[last] = patch["value"]
    values: dict[str, Any] = {}
    for dotted, value in config["deploy"]["helm"]["releases"][0]["setValues"].items():
        *parents, last = dotted.split(".")
        node = values
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return config, values


def _rendered() -> dict[str, dict[str, Any]]:
    _, values = _dev_profile()
    return {
        obj["metadata"]["labels"]["app.kubernetes.io/component"]: obj
        for obj in of_kind(render(values), "Deployment")
        if obj["metadata"]["labels"].get("app.kubernetes.io/component")
        in ("api", "worker", "reconciler")
    }


def test_synced_files_land_in_the_writable_folder_the_processes_run_from() -> None:
    config, values = _dev_profile()
    assert values["devReload"] is True
    dests = {rule["dest"] for a in config["build"]["artifacts"] for rule in a["sync"]["manual"]}
    assert dests == {"/dev-code"}
    for name, deployment in _rendered().items():
        pod = deployment["spec"]["template"]["spec"]
        main = pod["containers"][0]
        assert main["workingDir"] == "/dev-code", name
        assert {"name": "dev-code", "mountPath": "/dev-code"} in main["volumeMounts"]
        assert {"name": "dev-code", "emptyDir": {}} in pod["volumes"]
        (init,) = pod["initContainers"]
        assert init["command"] == ["cp", "-a", "/app/.", "/dev-code/"]
        assert init["image"] == main["image"]
        # The root filesystem stays read-only: only the emptyDir is written.
        assert all(c["securityContext"]["readOnlyRootFilesystem"] for c in containers(deployment))


def test_without_dev_reload_the_images_entrypoints_run_unchanged() -> None:
    for deployment in of_kind(render({}), "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert "initContainers" not in pod
        assert all("workingDir" not in c for c in pod["containers"])
        if deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "reconciler":
            # The API image's second program: its entrypoint is uvicorn.
            assert pod["containers"][0]["command"][-2:] == ["reconcile", "--forever"]
        else:
            assert all("command" not in c for c in pod["containers"])


def _local(argv: list[str], code: Path) -> list[str]:
    """A rendered command, run here: this interpreter, and the code tree at `code`."""
    local = [arg.replace("/dev-code", str(code)) for arg in argv]
    if local[0] == "watchfiles":
        local = [sys.executable, "-m", "watchfiles", *local[1:]]
        local = [a.replace("python -m", f"{sys.executable} -m") for a in local]
    elif local[0] == "python":
        local[0] = sys.executable
    return local


def _change_until(change, check, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    """Make the change, and make it again every 5 s until `check` holds: the reloader starts
    its watch after it starts the server, so on a busy machine a change made the moment the
    server answers can come before the watch (a person saves later than that)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        change()
        try:
            _wait(check, seconds=5)
            return
        except AssertionError:
            continue
    raise AssertionError(f"no reload within {seconds} s")


def _wait(check, seconds: float = 30) -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def test_the_rendered_api_command_reloads_a_changed_file(tmp_path: Path) -> None:
    import subprocess

    for package in ("api", "core"):  # the API reloads on either
        (tmp_path / package).mkdir()
    app = tmp_path / "api" / "main.py"
    source = (
        "async def app(scope, receive, send):\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'VERSION'})\n"
    )
    app.write_text(source.replace("VERSION", "one"))
    (tmp_path / "api" / "__init__.py").write_text("")
    port = free_port()
    argv = _local(_rendered()["api"]["spec"]["template"]["spec"]["containers"][0]["command"],
                  tmp_path)  # fmt: skip
    argv[argv.index("8000")] = str(port)
    log = (tmp_path / "uvicorn.log").open("w")
    server = subprocess.Popen(argv, cwd=tmp_path, stdout=log, stderr=log)

    def body() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                return response.read().decode()
        except OSError:
            return None

    try:
        assert _wait(body) == "one"
        try:
            _change_until(
                lambda: app.write_text(source.replace("VERSION", "the second version")),
                lambda: body() == "the second version",
            )
        except AssertionError:
            raise AssertionError((tmp_path / "uvicorn.log").read_text()) from None
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_the_rendered_worker_command_restarts_on_a_changed_file(tmp_path: Path) -> None:
    import subprocess

    starts = tmp_path / "starts"
    for package in ("core", "workers"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "workers" / "__main__.py").write_text(
        "import os, time\n"
        f"with open({str(starts)!r}, 'a') as f:\n"
        "    f.write(f'{os.getpid()}\\n')\n"
        "time.sleep(600)\n"
    )
    argv = _local(_rendered()["worker"]["spec"]["template"]["spec"]["containers"][0]["command"],
                  tmp_path)  # fmt: skip
    watcher = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait(lambda: starts.exists() and len(starts.read_text().split()) == 1)
        edits = iter(range(1000))
        _change_until(
            lambda: (tmp_path / "core" / "models.py").write_text(f"EDIT = {next(edits)}\n"),
            lambda: len(starts.read_text().split()) >= 2,
        )
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
