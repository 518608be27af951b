"""Who sees which user: a user record belongs to that user, so a team scope means the team's members."""

from sqlalchemy import ColumnElement

from crm_api.core.permissions import Principal, scope_clause
from crm_api.models.identity import User


def visible(principal: Principal, permission: str, *, named: bool = False) -> ColumnElement[bool]:
    """A user is visible when that user is within the caller's scope (own: oneself; team: the team's members).
    `named`: see `scope_clause`."""
    return scope_clause(principal, permission, User.id, named=named)
