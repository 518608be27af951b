"""The customer's vocabulary and who sees it: statuses (SPEC §3.4), ownership moves and the pool (§3.12), scopes."""

from collections.abc import Hashable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import BindParameter, ColumnElement, String, bindparam, or_

from crm_api.core.permissions import Principal, Scope, scope_clause
from crm_api.core.phones import complete_e164
from crm_api.core.repository import LIKE_ESCAPE, like_text

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


# The named parameters of a search (`searching`): `search_<filter>`, one per filter it sets.
SEARCH = "search_{}"
_EXACT_FILTERS = ("region", "level", "owner_id", "status")


class Search(NamedTuple):
    """The filters a search sets, as the shape of its statement (built once per shape) and the values it runs with."""

    shape: tuple[Hashable, ...]
    values: dict[str, Any]


def search(filters: "CustomerSearch") -> Search:
    values = {SEARCH.format(name): getattr(filters, name) for name in _EXACT_FILTERS if getattr(filters, name) is not None}
    if filters.tag:
        values[SEARCH.format("tag")] = filters.tag
    caseless = None
    if filters.q:
        # A term without letters of two cases (Chinese, digits) matches the same either way: LIKE compares bytes,
        # ILIKE lowercases every name it reads, and costs PostgreSQL four times as much per customer.
        caseless = filters.q.lower() == filters.q.upper()
        values[SEARCH.format("q")] = like_text(filters.q)
        number = complete_e164(filters.q)
        if number is not None:
            values[SEARCH.format("phone")] = number
    return Search((*values, caseless), values)


def searching(shape: tuple[Hashable, ...], values: Mapping[str, Any] | None = None) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the customers a search of this shape (`search`) matches: the term is in the name, code
    or phone; each other filter is equal. `values`: the search's, bound (a statement built per call); None: named
    parameters, run with them."""
    from crm_api.models.customer import Customer, CustomerTag  # the model imports this module for its statuses

    def value(filter_name: str, type_: Any) -> BindParameter[Any]:
        name = SEARCH.format(filter_name)
        return bindparam(name, type_=type_) if values is None else bindparam(name, values[name], type_=type_)

    *named, caseless = shape
    clauses: list[ColumnElement[bool]] = []
    for name in _EXACT_FILTERS:
        if SEARCH.format(name) in named:
            column = getattr(Customer, name)
            clauses.append(column == value(name, column.type))
    if SEARCH.format("tag") in named:
        clauses.append(Customer.tags.any(CustomerTag.tag == value("tag", String())))
    if SEARCH.format("q") in named:
        term = value("q", String())
        name_or_code = (
            column.contains(term, escape=LIKE_ESCAPE) if caseless else column.icontains(term, escape=LIKE_ESCAPE)
            for column in (Customer.name, Customer.code)
        )
        # A whole number is the customer's whose number it is, however either was punctuated, found by the number's
        # btree; a fragment is found in the number as typed. Digits make few trigrams, each in many numbers: the
        # trigram index read 160 pages for a whole number at a million customers.
        phones = (
            (Customer.phone_e164 == value("phone", String()),)
            if SEARCH.format("phone") in named
            else (column.contains(term, escape=LIKE_ESCAPE) for column in (Customer.phone, Customer.phone_e164))
        )
        clauses.append(or_(*name_or_code, *phones))
    return clauses


def matching(filters: "CustomerSearch") -> list[ColumnElement[bool]]:
    """`searching` with the filters' values bound, for a statement built per call: the export, the pool and
    marketing's segments."""
    return searching(*search(filters))


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
