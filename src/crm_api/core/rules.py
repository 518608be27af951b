"""A state machine's rules as one table: services enforce it, responses list what it allows.

Each action maps to an ordered list of checks; the first that refuses decides the error, so a
policy states once which refusal a caller sees first (403 before 409, or the other way round).
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from functools import cache
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import CheckConstraint

from crm_api.core.errors import Conflict, DomainError, Forbidden
from crm_api.core.permissions import Principal

E = TypeVar("E")
A = TypeVar("A", bound=StrEnum)

Check = Callable[[E, Principal], DomainError | None]


class HasStatus(Protocol):
    @property
    def status(self) -> Any: ...  # read-only, so a property (a warning with its owner) fits too


def one_of(column: str, values: Iterable[StrEnum]) -> str:
    """The SQL of a CHECK constraint (or partial index) that allows exactly these values."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def status_check(values: Iterable[StrEnum], *, column: str = "status") -> CheckConstraint:
    """The model's CHECK constraint for a status enum, named `ck_<table>_status_known`."""
    return CheckConstraint(one_of(column, values), name=f"{column}_known")


@cache  # one check per permission, so the rules of a table share it (`allowed_actions` runs it once)
def holds(permission: str) -> Check[Any]:
    """The caller's role grants `permission` (in any scope; the data scope is the query's job)."""

    def check(_entity: Any, actor: Principal) -> DomainError | None:
        if not actor.can(permission):
            return Forbidden(f"This action needs the permission {permission}", code="auth.missing_permission")
        return None

    return check


def status_in(allowed: Iterable[StrEnum], refusal: Callable[[Any], DomainError]) -> Check[HasStatus]:
    """The entity is in one of the `allowed` statuses, else `refusal(entity)` (a 409 naming the state)."""
    statuses = frozenset(allowed)

    def check(entity: HasStatus, _actor: Principal) -> DomainError | None:
        return None if entity.status in statuses else refusal(entity)

    return check


def conflict(code: str, detail: str) -> Callable[[HasStatus], Conflict]:
    """A refusal for `status_in`: `detail` may name `{status}`, the state the entity is in."""
    return lambda entity: Conflict(detail.format(status=entity.status), code=code, current_status=str(entity.status))


class RuleTable(Generic[E, A]):
    """Action → ordered checks. `enforce` raises the first refusal; `allowed_actions` lists those with none."""

    def __init__(self, rules: Mapping[A, Sequence[Check[E]]]) -> None:
        self.rules = dict(rules)

    def refusal(self, action: A, entity: E, actor: Principal) -> DomainError | None:
        for check in self.rules[action]:
            error = check(entity, actor)
            if error is not None:
                return error
        return None

    def enforce(self, action: A, entity: E, actor: Principal) -> None:
        error = self.refusal(action, entity, actor)
        if error is not None:
            raise error

    def allowed_actions(self, entity: E, actor: Principal) -> list[A]:
        # Actions share checks (the permission, the owner, the status): each runs once per entity, and a refusal
        # built once, not once per action; a page of twenty records asks this of each.
        passed: dict[Check[E], bool] = {}
        allowed = []
        for action, checks in self.rules.items():
            for check in checks:
                verdict = passed.get(check)
                if verdict is None:
                    verdict = passed[check] = check(entity, actor) is None
                if not verdict:
                    break
            else:
                allowed.append(action)
        return allowed
