"""Role × status: what a policy's `allowed_actions` offers is exactly what its service accepts.

Each cell gets a fresh record in the status, so an accepted action changes nothing the next one sees.
The service is called directly, without the routes' permission checks: the rules must hold there.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from crm_api.auth.principal import principal_for_user
from crm_api.core.errors import Conflict, Forbidden, NotFound
from crm_api.core.permissions import Principal
from crm_api.core.rules import RuleTable
from tests.factories import Actor

E = TypeVar("E")
A = TypeVar("A", bound=StrEnum)

# (caller, status) → the actions the service accepted; None when the caller cannot see the record.
Matrix = dict[tuple[str, str], set[str] | None]


async def principal_of(session: Any, actor: Actor) -> Principal:
    found = await principal_for_user(session, actor.id)
    assert found is not None
    return found[0]


async def accepted_actions(
    rules: RuleTable[E, A],
    *,
    statuses: Sequence[str],
    principals: Mapping[str, Principal],
    record_in: Callable[[str], Awaitable[E]],
    attempts: Mapping[A, Callable[[Principal, E], Awaitable[object]]],
) -> Matrix:
    """Try every action as every caller in every status; fail where the service and the table disagree.

    An action the table allows must succeed; one it refuses must fail with 403 or 409 (a caller
    without the action's permission may be refused before the table is asked). The matrix returned
    is for the test to compare with what the specification says each role may do.
    """
    assert set(attempts) == set(rules.rules), "every action of the table is tried"
    matrix: Matrix = {}
    for status in statuses:
        for caller, principal in principals.items():
            accepted: set[str] | None = set()
            for action, attempt in attempts.items():
                record = await record_in(status)
                offered = action in rules.allowed_actions(record, principal)
                try:
                    await attempt(principal, record)
                except NotFound:
                    accepted = None  # out of the caller's scope: nothing to act on
                    break
                except (Forbidden, Conflict) as refused:
                    refusal: str | None = refused.code
                else:
                    refusal = None
                    accepted.add(action.value)
                assert offered == (refusal is None), (caller, status, action, "offered" if offered else "not offered", refusal)
            matrix[(caller, status)] = accepted
    return matrix
