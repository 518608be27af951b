"""The customer's vocabulary and who sees it: statuses (SPEC §3.4) and the owner's data scope."""

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement

from crm_api.core.permissions import Principal, Scope, scope_clause

if TYPE_CHECKING:
    from crm_api.models.identity import User


class CustomerStatus(StrEnum):
    ACTIVE = "active"  # 正常: the only status that may be edited
    CHURNED = "churned"  # 已流失: set by confirming a churn warning


def visible(principal: Principal, permission: str) -> ColumnElement[bool]:
    """A customer is visible when its owner is within the caller's scope."""
    from crm_api.models.customer import Customer  # the model imports this module for its statuses

    return scope_clause(principal, permission, Customer.owner_id)


def may_transfer_to(actor: Principal, new_owner: "User") -> bool:
    """Whether the actor may give a customer to `new_owner`: a team-scoped transfer stays inside the actor's team."""
    return actor.scope("customers:transfer") is not Scope.TEAM or new_owner.team_id == actor.team_id
