"""The layout rules (STYLE.md) as tests: a domain never imports a sibling's repository, and no domain imports the
read side (crm_api/read), which sits above the domains."""

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import repo_root

PACKAGE = repo_root() / "src" / "crm_api"
# Packages that are not domains: shared code below them, the read side above them.
NOT_DOMAINS = {"core", "models", "read"}


def _domains() -> list[Path]:
    return sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and p.name not in NOT_DOMAINS)


def _imported_modules(path: Path) -> Iterator[str]:
    """Every module the file imports, `from crm_api.x import repository` counted as crm_api.x.repository."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _imports_by_domain() -> Iterator[tuple[str, Path, str]]:
    for domain in _domains():
        for path in sorted(domain.rglob("*.py")):
            for module in _imported_modules(path):
                yield domain.name, path.relative_to(PACKAGE), module


def test_no_domain_imports_a_siblings_repository():
    found = set()
    for domain, path, module in _imports_by_domain():
        parts = module.split(".")
        if len(parts) < 3 or parts[0] != "crm_api" or parts[2] != "repository":
            continue
        sibling = parts[1]
        if sibling not in {domain, "core"}:
            found.add(f"{path} imports crm_api.{sibling}.repository")
    assert not found, "call the owning domain's service or policy instead:\n" + "\n".join(sorted(found))


def test_no_domain_imports_the_read_side():
    found = {f"{path} imports {module}" for _, path, module in _imports_by_domain() if module.startswith("crm_api.read")}
    assert not found, "the read side sits above the domains:\n" + "\n".join(sorted(found))
