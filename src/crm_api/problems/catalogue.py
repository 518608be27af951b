"""Every error code the service answers, what it means and when it happens, read from the code itself.

A code is written once, where it is raised or declared: each DomainError subclass gives its
class-level code (its docstring says what it means), and every call that passes a literal `code`
(an error class, `problem_response`, a RuleTable's `conflict`, `problem_code`…) gives one more,
with the status of the error it builds and its detail as when it happens. An f-string code
(`{entity}.not_found`) is a pattern that answers for every code it matches.
"""

import ast
import builtins
import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import crm_api
from crm_api.core.errors import DomainError, NotFound


@dataclass
class ProblemType:
    code: str
    title: str
    statuses: set[int] = field(default_factory=set)
    description: str | None = None
    occurs: list[str] = field(default_factory=list)

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("[a-z0-9_]+".join(map(re.escape, re.split(r"\{[^}]*\}", self.code))))


def _subclasses(cls: type[DomainError]) -> Iterator[type[DomainError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _error_class(target: Any) -> type[DomainError] | None:
    """The error a call builds: the class called, the class of a classmethod, or the declared return type."""
    if inspect.ismethod(target):
        target = target.__self__
    if isinstance(target, type):
        return target if issubclass(target, DomainError) else None
    try:
        returned = typing.get_type_hints(target).get("return")
    except (NameError, TypeError):
        return None
    for candidate in (returned, *typing.get_args(returned)):
        if isinstance(candidate, type) and issubclass(candidate, DomainError) and candidate is not DomainError:
            return candidate
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, module: ModuleType, found: dict[str, ProblemType]) -> None:
        self.module = module
        self.found = found
        self.classes: list[str] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        signature_of, error = self._callee(node.func)
        if signature_of is None:
            return
        try:
            bound = inspect.signature(signature_of).bind_partial(
                *node.args, **{keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
            )
        except (TypeError, ValueError):
            return
        code = self._text(bound.arguments.get("code"))
        if code is None:
            return
        status = error.status if error is not None else self._constant(bound.arguments.get("status"), int)
        title = error.title if error is not None else self._text(bound.arguments.get("title"))
        when = self._text(bound.arguments.get("detail") or bound.arguments.get("message"))
        _record(self.found, code, status, title, when)

    def _callee(self, func: ast.expr) -> tuple[Any, type[DomainError] | None]:
        """What to bind the call's arguments to, and the error class it builds (if any)."""
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super"
            and self.classes
        ):  # `super().__init__(…)` in an error class: the parent's parameters, this class's status
            cls = getattr(self.module, self.classes[-1], None)
            if isinstance(cls, type) and issubclass(cls, DomainError):
                return cls.__mro__[1], cls
            return None, None
        target = self._resolve(func)
        if target is None or not callable(target):
            return None, None
        error = _error_class(target)
        # Otherwise only a function that answers a status and a code (`problem_response`): a model's `code` is data.
        if error is None and not (inspect.isfunction(target) and {"status", "code"} <= set(inspect.signature(target).parameters)):
            return None, None
        return target, error

    def _resolve(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            return getattr(self.module, node.id, None)
        if isinstance(node, ast.Attribute):
            owner = self._resolve(node.value)
            return getattr(owner, node.attr, None) if owner is not None else None
        return None

    def _constant(self, node: ast.expr | None, kind: type | tuple[type, ...]) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, kind):
            return node.value
        if isinstance(node, ast.Name):
            value = getattr(self.module, node.id, None)
            return value if isinstance(value, kind) else None
        return None

    def _text(self, node: ast.expr | None) -> str | None:
        """A literal string, a module constant, or an f-string with `{name}` for what it fills in."""
        if not isinstance(node, ast.JoinedStr):
            text: str | None = self._constant(node, str)
            return text
        parts = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                constant = self._constant(part.value, (str, int))
                parts.append(str(constant) if constant is not None else "{" + _placeholder(part.value) + "}")
            else:
                parts.append(str(part.value) if isinstance(part, ast.Constant) else "")
        return "".join(parts)


def _placeholder(value: ast.expr) -> str:
    """`data.username` for `{data.username}`; the variable a longer expression (`{', '.join(missing)}`) formats."""
    if isinstance(value, ast.Name | ast.Attribute):
        return ast.unparse(value)
    names = [node.id for node in ast.walk(value) if isinstance(node, ast.Name) and not hasattr(builtins, node.id)]
    return names[0] if names else "value"


def _record(found: dict[str, ProblemType], code: str, status: int | None, title: str | None, when: str | None) -> None:
    entry = found.setdefault(code, ProblemType(code, title or (HTTPStatus(status).phrase if status else "Error")))
    if status is not None:
        entry.statuses.add(status)
    if when and when not in entry.occurs:
        entry.occurs.append(when)


def _modules() -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(crm_api.__path__, f"{crm_api.__name__}."):
        yield importlib.import_module(info.name)


@cache
def catalogue() -> dict[str, ProblemType]:
    """Code → problem type, sorted by code."""
    found: dict[str, ProblemType] = {}
    modules = list(_modules())  # imported first, so every error class is known
    for cls in _subclasses(DomainError):
        _record(found, cls.code, cls.status, cls.title, None)
        found[cls.code].description = inspect.cleandoc(cls.__dict__["__doc__"]) if cls.__dict__.get("__doc__") else None
    for module in modules:
        if module.__file__ is not None:
            _Scanner(module, found).visit(ast.parse(Path(module.__file__).read_text(encoding="utf-8")))
    return dict(sorted(found.items()))


def lookup(code: str) -> ProblemType | None:
    """The entry for `code`: its own, or the pattern it matches (`customer.not_found` → `{entity}.not_found`)."""
    problems = catalogue()
    if code in problems:
        return problems[code]
    return next((entry for entry in problems.values() if "{" in entry.code and entry.pattern.fullmatch(code)), None)


class _RecordLabels(ast.NodeVisitor):
    """The labels of the records a NotFound names: `NotFound("Customer", id)`, `repo.get_scoped_or_404(…, "Quote")`."""

    def __init__(self) -> None:
        self.labels: set[str] = set()

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == "NotFound" or name.endswith("_or_404"):
            literals = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            self.labels.update(NotFound(label).code for label in literals[-1:])


@cache
def not_found_codes() -> frozenset[str]:
    """Every `<record>.not_found` code raised with a literal record label."""
    scanner = _RecordLabels()
    for module in _modules():
        if module.__file__ is not None:
            scanner.visit(ast.parse(Path(module.__file__).read_text(encoding="utf-8")))
    return frozenset(scanner.labels)


def statuses(code: str) -> set[int] | None:
    """The statuses `code` is answered with; None for a code nothing raises. A `<record>.not_found` is a 404 when a
    NotFound names that record (other patterns, `opportunity.not_{wanted}`, match it too)."""
    if code.endswith(".not_found"):
        return {NotFound.status} if "{" in code or code in not_found_codes() else None
    entry = lookup(code)
    return entry.statuses if entry is not None else None
