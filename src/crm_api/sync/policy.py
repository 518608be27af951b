"""What a mobile client syncs: the kinds of record, the permission that scopes each, and the token's bounds."""

from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, or_

from crm_api.core.permissions import Principal, scope_clause
from crm_api.core.tables import ChangeLog


class SyncType(StrEnum):
    """In the order a full snapshot sends them: a contact's customer comes before it."""

    CUSTOMERS = "customers"
    CONTACTS = "contacts"
    INTERACTIONS = "interactions"
    TASKS = "tasks"
    OPPORTUNITIES = "opportunities"


# The change log's entity type of each kind, and the permission whose data scope is the caller's view of it.
ENTITY_TYPES = {
    SyncType.CUSTOMERS: "customer",
    SyncType.CONTACTS: "contact",
    SyncType.INTERACTIONS: "interaction",
    SyncType.TASKS: "task",
    SyncType.OPPORTUNITIES: "opportunity",
}
PERMISSIONS = {
    SyncType.CUSTOMERS: "customers:read",
    SyncType.CONTACTS: "customers:read",
    SyncType.INTERACTIONS: "customers:read",
    SyncType.TASKS: "tasks:read",
    SyncType.OPPORTUNITIES: "opportunities:read",
}

# The order a snapshot sends each kind in, by attribute. A contact or interaction goes in its customer's order: the
# caller's customers lead the scan, so a page costs its own rows, not a re-sort of every one in scope before it.
SNAPSHOT_ORDER: dict[SyncType, tuple[str, ...]] = {
    kind: ("customer_id", "id") if kind in (SyncType.CONTACTS, SyncType.INTERACTIONS) else ("id",) for kind in SyncType
}

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
# A token is a few numbers and type names: a longer one is crafted.
MAX_TOKEN_LENGTH = 512


def visible(kind: SyncType, principal: Principal) -> ColumnElement[bool]:
    """The records of `kind` the caller's lists show: live customers in scope and what belongs to them (the
    repository joins a contact or interaction to its customer), tasks and opportunities by their own policies."""
    from crm_api.customers import policy as customers
    from crm_api.models.customer import Customer
    from crm_api.opportunities import policy as opportunities
    from crm_api.tasks import policy as tasks

    permission = PERMISSIONS[kind]
    if kind in (SyncType.CUSTOMERS, SyncType.CONTACTS, SyncType.INTERACTIONS):
        return and_(Customer.deleted_at.is_(None), customers.visible(principal, permission))
    if kind is SyncType.TASKS:
        return tasks.visible(principal, permission)
    return opportunities.visible(principal, permission)


def reaches(kinds: Sequence[SyncType], principal: Principal) -> ColumnElement[bool]:
    """Log rows of the kinds that reach the caller's scope: the record was or is in it."""
    return or_(
        *(
            and_(ChangeLog.entity_type == ENTITY_TYPES[kind], scope_clause(principal, PERMISSIONS[kind], ChangeLog.owner_id))
            for kind in kinds
        )
    )
