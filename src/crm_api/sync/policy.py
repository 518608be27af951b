"""What a mobile client syncs: the kinds of record, the permission that scopes each, and the token's bounds."""

from enum import StrEnum


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

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
# A token is a few numbers and type names: a longer one is crafted.
MAX_TOKEN_LENGTH = 512
