"""core is the bottom layer: it imports neither the models nor a domain, so every package may import it."""

import ast
from pathlib import Path

import crm_api

CORE = Path(crm_api.__file__).parent / "core"


def _imported_packages(tree: ast.Module) -> set[str]:
    """The crm_api package each import names ("core", "models", "users", …)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            # `from crm_api import models` names the package in the alias.
            names |= {f"{node.module}.{a.name}" for a in node.names} if node.module == "crm_api" else {node.module}
    return {name.split(".")[1] for name in names if name.startswith("crm_api.")}


def _outside_imports() -> dict[str, set[str]]:
    found = {}
    for path in sorted(CORE.glob("*.py")):
        outside = _imported_packages(ast.parse(path.read_text(), str(path))) - {"core"}
        if outside:
            found[path.name] = outside
    return found


def test_core_imports_no_model_and_no_domain():
    assert _outside_imports() == {}


def test_the_check_sees_every_import_form():
    source = "import crm_api.models\nfrom crm_api import users\nfrom crm_api.customers.service import x\nfrom crm_api.core import audit"
    assert _imported_packages(ast.parse(source)) == {"models", "users", "customers", "core"}
