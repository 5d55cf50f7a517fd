"""One erasure vocabulary: every deletion of personal data writes its audit rows through
`core.erasure.record`, which names each kind of data once."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from core import erasure
from core.models import AuditAction

BASE = Path(__file__).resolve().parents[2]


def test_every_kind_of_erased_data_has_its_audit_action() -> None:
    kinds = [f.name for f in dataclasses.fields(erasure.Erased)]
    assert list(erasure.ACTIONS) == kinds
    assert len(set(erasure.ACTIONS.values())) == len(kinds)


def test_no_module_writes_a_deletion_to_the_audit_log_but_the_erasure_path() -> None:
    deletions = {a.name for a in AuditAction if a.name.endswith("_deleted")}
    assert deletions == {a.name for a in erasure.ACTIONS.values()}
    offenders = []
    for top in ("api", "core", "workers"):
        for path in (BASE / top).rglob("*.py"):
            if "migrations" in path.parts or path == BASE / "core" / "erasure.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "AuditAction"
                    and node.attr in deletions
                ):
                    offenders.append(f"{path.relative_to(BASE)}:{node.lineno}: {node.attr}")
    assert offenders == []
