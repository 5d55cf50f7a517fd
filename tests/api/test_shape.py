"""The shape of every API feature, read from the source (CONTRIBUTING.md, "Where code goes").

A feature is a folder of api/: `endpoints` (HTTP: parse, authorise, call the service,
shape the answer) -> `service` (the rules) -> `repository` (SQL), with `schemas` (the
wire types). These tests fail on the first endpoint that runs a query, the first service
that builds one, and the first import against the arrows; `test_a_planted_violation_is_
caught` checks that they can fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import circles

BASE = Path(__file__).resolve().parents[2]
API = BASE / "api"
LAYERS = {"endpoints", "service", "repository", "schemas"}
HELPERS = {
    "auth/deps.py": "the request dependencies that say who is calling",
    "auth/security.py": "tokens, password hashes and link digests: no database",
    "events/codes.py": "the short event codes people type",
    "mail/caught.py": "local mode's catcher page reads the caught mails' files",
    "web/pages.py": "the Jinja2 templates the HTML pages render with",
}
"""Modules a feature may hold beside its layers, each for a reason; none touches SQL."""
SQL_CONSTRUCTS = {
    "select", "text", "update", "delete", "insert", "func", "col", "exists", "tuple_",
    "literal", "and_", "or_", "not_", "aliased", "case",
}  # fmt: skip
QUERY_METHODS = {"exec", "execute", "get", "scalar", "scalars", "query", "merge", "connection"}
SQL_HOMES = {"pagination.py": "the keyset pages every repository's lists are cut into"}
"""Modules outside a repository that may build SQL, each for a reason."""
NO_DATA_ACCESS_IN_ENDPOINTS = {"rq", "redis", "sqlalchemy", "psycopg", "core.db", "core.redis"}


@dataclass(frozen=True)
class Module:
    path: Path
    tree: ast.Module

    @property
    def name(self) -> str:
        return ".".join(self.path.relative_to(BASE).with_suffix("").parts).removesuffix(".__init__")

    @property
    def layer(self) -> str:
        return self.path.stem

    @property
    def feature(self) -> str | None:
        """The feature folder, for a module inside one."""
        parts = self.path.relative_to(API).parts
        return parts[0] if len(parts) > 1 else None

    def imports(self) -> Iterator[tuple[int, str, list[str]]]:
        """(line, module, names) of every absolute import, wherever it stands."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name, []
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield node.lineno, node.module, [alias.name for alias in node.names]


def _modules(root: Path = API) -> list[Module]:
    return [
        Module(path, ast.parse(path.read_text()))
        for path in sorted(root.rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _targets(module: str, names: list[str]) -> list[str]:
    """The modules an import reaches: `from api.x import service` reaches api.x.service."""
    found = [f"{module}.{name}" for name in names if _exists(f"{module}.{name}")]
    return found or [module]


def _exists(module: str) -> bool:
    path = BASE.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def shape_violations(modules: list[Module]) -> list[str]:
    """Every way the modules break the shape, as `path:line: what`."""
    found: list[str] = []
    for module in modules:
        where = module.path.relative_to(BASE)
        inside = module.path.relative_to(API).as_posix()
        stray = module.layer not in (*LAYERS, "__init__") and inside not in HELPERS
        if module.feature and stray:
            found.append(f"{where}: not a layer of the feature, nor a helper named in HELPERS")
        builds_sql = module.layer == "repository" or inside in SQL_HOMES
        for line, imported, names in module.imports():
            top = imported.split(".")[0]
            if top in ("sqlalchemy", "sqlmodel") and not builds_sql:
                sql = sorted(set(names) & SQL_CONSTRUCTS)
                if sql:
                    found.append(
                        f"{where}:{line}: builds SQL ({', '.join(sql)}) outside a repository"
                    )
            reached = _targets(imported, names)
            if module.layer == "endpoints":
                for target in reached:
                    if target.endswith(".repository"):
                        found.append(f"{where}:{line}: an endpoint imports a repository ({target})")
                if imported in NO_DATA_ACCESS_IN_ENDPOINTS or top in NO_DATA_ACCESS_IN_ENDPOINTS:
                    found.append(
                        f"{where}:{line}: an endpoint reaches for data itself ({imported})"
                    )
            for target in reached:
                layer = target.rsplit(".", 1)[-1]
                if layer == "endpoints" and module.name != "api.main":
                    found.append(
                        f"{where}:{line}: imports endpoints ({target}): only api.main does"
                    )
                if module.layer == "repository" and layer == "service":
                    found.append(f"{where}:{line}: a repository imports a service ({target})")
        for node in ast.walk(module.tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "session"
            ):
                continue
            method = node.func.attr
            if not builds_sql and method in QUERY_METHODS:
                found.append(f"{where}:{node.lineno}: session.{method}() outside a repository")
            if module.layer == "endpoints":
                found.append(f"{where}:{node.lineno}: an endpoint calls session.{method}()")
    return found


def test_every_feature_has_the_shape() -> None:
    assert shape_violations(_modules()) == []


def test_the_helpers_named_exist_and_build_no_sql() -> None:
    for helper in HELPERS:
        assert (API / helper).exists(), helper


def _folder_graph() -> dict[str, set[str]]:
    """Feature folders (and top-level modules) of api/, and the others each imports."""
    graph: dict[str, set[str]] = {}
    for module in _modules():
        source = module.feature or module.name
        for _, imported, names in module.imports():
            for target in _targets(imported, names):
                parts = target.split(".")
                if parts[0] != "api" or len(parts) < 2:
                    continue
                folder = parts[1] if (API / parts[1]).is_dir() else target
                if folder != source:
                    graph.setdefault(source, set()).add(folder)
    return graph


def test_no_feature_folder_is_in_an_import_circle() -> None:
    assert circles(_folder_graph()) == []


def test_a_planted_violation_is_caught(tmp_path: Path) -> None:
    """The checks above can fail: an endpoint that queries, a service that builds SQL, and
    a repository that calls its service, in a copy of a real feature."""
    real = API / "reviews" / "endpoints.py"
    planted = real.read_text() + (
        "\n\nfrom api.reviews import repository\nfrom sqlmodel import select\n\n\n"
        "def _sneaky(session):\n    return session.exec(select(repository))\n"
    )
    module = Module(real, ast.parse(planted))
    found = shape_violations([module])
    assert any("an endpoint imports a repository" in f for f in found), found
    assert any("builds SQL (select) outside a repository" in f for f in found), found
    assert any("session.exec() outside a repository" in f for f in found), found
    service = Module(API / "events" / "service.py", ast.parse("from sqlalchemy import text\n"))
    assert shape_violations([service]) != []
    repository = Module(
        API / "events" / "repository.py", ast.parse("from api.events import service\n")
    )
    assert any("a repository imports a service" in f for f in shape_violations([repository]))
    stray = Module(API / "events" / "helpers.py", ast.parse(""))
    assert any("not a layer" in f for f in shape_violations([stray]))
    assert circles({"attendees": {"mail"}, "mail": {"attendees"}}) == [
        ["attendees", "mail", "attendees"]
    ]
