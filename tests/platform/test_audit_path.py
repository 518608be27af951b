"""One audit path: domains record through core.audit's functions that take entities, never a hand-built row."""

import ast
from pathlib import Path

import crm_api

SOURCE = Path(crm_api.__file__).parent


def _hand_built_records() -> list[str]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if relative == Path("core/audit.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            call = node.func if isinstance(node, ast.Call) else None
            if isinstance(call, ast.Attribute) and call.attr in {"record", "_record"} and ast.unparse(call.value) == "audit":
                found.append(f"{relative}:{node.lineno}")
    return found


def test_no_domain_builds_an_audit_row_by_hand():
    assert _hand_built_records() == []
