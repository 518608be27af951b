"""The customer's vocabulary and who sees it: statuses (SPEC §3.4), ownership moves and the pool (§3.12), scopes."""

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, or_

from crm_api.core.permissions import Principal, Scope, scope_clause

if TYPE_CHECKING:
    from crm_api.customers.schemas import CustomerSearch  # the schemas import this module for the statuses
    from crm_api.models.identity import User

# Who may own a customer may see the pool and claim from it.
POOL_PERMISSION = "customers:write"
# The named parameter of the customer in statements about one customer: its reads and checks by id, and the records
# other domains keep about it, which the customer 360 (read/customer_360) reads in the customer's own statement.
CUSTOMER_ID = "customer_id"


class CustomerStatus(StrEnum):
    ACTIVE = "active"  # 正常: the only status that may be edited
    CHURNED = "churned"  # 已流失: set by confirming a churn warning


class OwnershipAction(StrEnum):
    """How a customer's owner changed; each is a row of its ownership history."""

    CREATE = "create"  # the creator became the first owner
    CLAIM = "claim"  # taken from the pool (申领)
    RELEASE = "release"  # put back into the pool, with a reason
    TRANSFER = "transfer"  # given to another account manager
    RECYCLE = "recycle"  # returned to the pool by the recycle job
    MERGE = "merge"  # a duplicate merged into it: the loser's owner gives way to the survivor's
    LOCK = "lock"  # its owner keeps it out of the recycle job (the owner does not change)
    UNLOCK = "unlock"


def visible(principal: Principal, permission: str, *, named: bool = False) -> ColumnElement[bool]:
    """A customer is visible when its owner is within the caller's scope (a pool customer has none, so is not).
    `named`: see `scope_clause`."""
    from crm_api.models.customer import Customer  # the model imports this module for its statuses

    return scope_clause(principal, permission, Customer.owner_id, named=named)


def matching(filters: "CustomerSearch") -> list[ColumnElement[bool]]:
    """The WHERE clauses of the customers a search matches: the list, the export and marketing's segments share them."""
    from crm_api.models.customer import Customer, CustomerTag

    clauses: list[ColumnElement[bool]] = []
    if filters.q:
        q = filters.q
        clauses.append(
            or_(
                Customer.name.icontains(q, autoescape=True),
                Customer.code.icontains(q, autoescape=True),
                Customer.phone.contains(q, autoescape=True),
                Customer.phone_e164.contains(q, autoescape=True),
            )
        )
    exact = {
        Customer.region: filters.region,
        Customer.level: filters.level,
        Customer.owner_id: filters.owner_id,
        Customer.status: filters.status,
    }
    clauses += [column == value for column, value in exact.items() if value is not None]
    if filters.tag:
        clauses.append(Customer.tags.any(CustomerTag.tag == filters.tag))
    return clauses


def in_pool(principal: Principal) -> ColumnElement[bool]:
    """Customers without an owner, to whoever may own customers (403 otherwise)."""
    from crm_api.models.customer import Customer

    principal.require(POOL_PERMISSION)
    return Customer.owner_id.is_(None)


def visible_or_pooled(principal: Principal, permission: str) -> ColumnElement[bool]:
    """Visible under `permission`, or in the pool to a caller who may claim it."""
    if not principal.can(POOL_PERMISSION):
        return visible(principal, permission)
    return or_(visible(principal, permission), in_pool(principal))


def may_transfer_to(actor: Principal, new_owner: "User") -> bool:
    """Whether the actor may give a customer to `new_owner`: a team-scoped transfer stays inside the actor's team."""
    return actor.scope("customers:transfer") is not Scope.TEAM or new_owner.team_id == actor.team_id
