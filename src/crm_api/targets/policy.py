"""Who sees and sets sales targets (SPEC §3.13): a person's target follows the person's scope, a team's target the
team's: admins and executives all, a supervisor their own team and its members, an account manager reads their own."""

from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlalchemy.orm import InstrumentedAttribute

from crm_api.core.permissions import Principal, Scope, scope_clause


class TargetHolder(StrEnum):
    """Whose target it is: one person's, or a whole team's (set apart from its members' own targets)."""

    USER = "user"
    TEAM = "team"


READ = "targets:read"
WRITE = "targets:write"


def team_in_scope(
    principal: Principal, permission: str, team_column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]
) -> ColumnElement[bool]:
    """A team's figures are visible to whoever sees every team, and to a supervisor for their own team."""
    scope = principal.scope(permission)
    if scope is Scope.ALL:
        return true()
    if scope is Scope.TEAM and principal.team_id is not None:
        return team_column == principal.team_id
    return false()


def visible(principal: Principal, permission: str) -> ColumnElement[bool]:
    """The targets within the caller's scope under `permission` (targets:read to list, targets:write to change)."""
    from crm_api.models.target import SalesTarget

    return or_(
        and_(SalesTarget.user_id.is_not(None), scope_clause(principal, permission, SalesTarget.user_id)),
        and_(SalesTarget.team_id.is_not(None), team_in_scope(principal, permission, SalesTarget.team_id)),
    )


def may_set(principal: Principal, *, user_team_id: int | None, user_id: int | None, team_id: int | None) -> bool:
    """Whether the caller may set a target of this user (whose team is `user_team_id`) or of this team."""
    scope = principal.scope(WRITE)
    if scope is Scope.ALL:
        return True
    if scope is Scope.TEAM and principal.team_id is not None:
        return (user_team_id if user_id is not None else team_id) == principal.team_id
    return user_id is not None and user_id == principal.user_id
