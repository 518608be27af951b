"""The permission catalogue, built-in roles, and the data scope every domain query applies."""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Integer, bindparam, column, false, select, table, true
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import BindParameter

from crm_api.core.errors import Forbidden

T = TypeVar("T")


class Scope(StrEnum):
    OWN = "own"
    TEAM = "team"
    ALL = "all"


SCOPE_RANK = {Scope.OWN: 0, Scope.TEAM: 1, Scope.ALL: 2}

# The users table as far as a team scope needs it: core names the table, not the model.
_USERS = table("users", column("id", Integer), column("team_id", Integer))

# Every permission the API checks, with what it lets a caller do.
PERMISSIONS: dict[str, str] = {
    "users:read": "List and read users and teams",
    "users:write": "Create, change, disable users and teams",
    "roles:read": "List roles and their permissions",
    "roles:write": "Create and change custom roles",
    "api_keys:write": "Issue and revoke integrator API keys",
    "dictionary:write": "Change the data dictionary",
    "custom_fields:write": "Define, change and deactivate custom fields",
    "settings:write": "Change business settings: stages, scoring, assignment, SLA and routing rules",
    "audit:read": "Read the audit trail",
    "jobs:read": "Read scheduled job runs",
    "jobs:run": "Run a scheduled job now",
    "customers:read": "Read customers, contacts, interactions and orders",
    "customers:write": "Create and change customers, contacts and interactions",
    "customers:delete": "Soft-delete and restore customers",
    "customers:transfer": "Give a customer to another account manager",
    "products:read": "Read products and inventory",
    "products:write": "Edit the product catalogue: codes, list prices, tax rates, active",
    "quotes:read": "Read quotes",
    "quotes:write": "Draft, submit, send and revise quotes for one's opportunities and customers",
    "contracts:read": "Read contracts",
    "contracts:write": "Draft, submit, complete and terminate contracts with one's customers",
    "approvals:read": "Read approval requests one made or decides, and decide those one is an approver of",
    "approvals:manage": "Define approval flows",
    "integrations:sales": "Push products, inventory and orders from the sales system",
    "leads:read": "Read leads",
    "leads:write": "Capture, work, qualify and convert leads",
    "opportunities:read": "Read opportunities",
    "opportunities:create": "Create opportunities",
    "opportunities:assign": "Assign opportunities to account managers",
    "opportunities:work": "Plan, win and lose opportunities assigned to oneself",
    "tickets:read": "Read service tickets",
    "tickets:create": "Create service tickets",
    "tickets:assign": "Assign service tickets",
    "tickets:handle": "Handle and give feedback on service tickets",
    "kb:read": "Read the knowledge base",
    "kb:write": "Write knowledge base articles",
    "churn:read": "Read churn warnings",
    "churn:scan": "Run the churn scan now",
    "churn:manage": "Add measures to and confirm churn warnings",
    "reports:read": "Read reports",
    "targets:read": "Read monthly sales targets of people and teams in scope",
    "targets:write": "Set, change and remove monthly sales targets of people and teams in scope",
    "marketing:read": "Read campaigns and segments",
    "marketing:write": "Run campaigns and segments",
    "marketing:track": "Record campaign touches (sent, opened, clicked, converted)",
    "webhooks:write": "Manage webhook subscriptions",
    "tasks:read": "Read tasks assigned to or created by people in scope",
    "tasks:write": "Create, change, complete, cancel and delete tasks",
    "privacy:erase": "Erase the personal data of a customer or contact (anonymize; aggregates stay)",
}

_READ_ONLY = [p for p in PERMISSIONS if p.endswith(":read")]

# Built-in roles: permission -> scope. Kept in code and synced to the database on upgrade.
BUILTIN_ROLES: dict[str, tuple[str, dict[str, Scope]]] = {
    "admin": ("System admin", dict.fromkeys(PERMISSIONS, Scope.ALL)),
    # Executives set the sales targets too.
    "executive": ("Executive", dict.fromkeys([*_READ_ONLY, "targets:write"], Scope.ALL)),
    "sales_supervisor": (
        "Sales supervisor",
        {
            "users:read": Scope.ALL,
            "customers:read": Scope.TEAM,
            "customers:write": Scope.TEAM,
            "customers:delete": Scope.TEAM,
            "customers:transfer": Scope.TEAM,
            "products:read": Scope.ALL,
            "quotes:read": Scope.TEAM,
            "quotes:write": Scope.TEAM,
            "contracts:read": Scope.TEAM,
            "contracts:write": Scope.TEAM,
            "approvals:read": Scope.TEAM,
            "leads:read": Scope.TEAM,
            "leads:write": Scope.TEAM,
            "opportunities:read": Scope.TEAM,
            "opportunities:create": Scope.TEAM,
            "opportunities:assign": Scope.TEAM,
            "tickets:read": Scope.TEAM,
            "tickets:create": Scope.TEAM,
            "tickets:assign": Scope.TEAM,
            "tickets:handle": Scope.TEAM,
            "kb:read": Scope.ALL,
            "kb:write": Scope.ALL,
            "churn:read": Scope.TEAM,
            "churn:scan": Scope.ALL,
            "churn:manage": Scope.TEAM,
            "reports:read": Scope.TEAM,
            "targets:read": Scope.TEAM,
            "targets:write": Scope.TEAM,
            "jobs:run": Scope.ALL,
            "tasks:read": Scope.TEAM,
            "tasks:write": Scope.TEAM,
        },
    ),
    "account_manager": (
        "Account manager",
        {
            "customers:read": Scope.OWN,
            "customers:write": Scope.OWN,
            "customers:delete": Scope.OWN,
            "products:read": Scope.ALL,
            "quotes:read": Scope.OWN,
            "quotes:write": Scope.OWN,
            "contracts:read": Scope.OWN,
            "contracts:write": Scope.OWN,
            "approvals:read": Scope.OWN,
            "leads:read": Scope.OWN,
            "leads:write": Scope.OWN,
            "opportunities:read": Scope.OWN,
            "opportunities:create": Scope.OWN,
            "opportunities:work": Scope.OWN,
            "tickets:read": Scope.OWN,
            "tickets:create": Scope.OWN,
            "tickets:handle": Scope.OWN,
            "kb:read": Scope.ALL,
            "churn:read": Scope.OWN,
            "churn:manage": Scope.OWN,
            "targets:read": Scope.OWN,
            "tasks:read": Scope.OWN,
            "tasks:write": Scope.OWN,
        },
    ),
    "marketer": (
        "Marketer",
        {
            "leads:read": Scope.ALL,
            "leads:write": Scope.ALL,
            "marketing:read": Scope.ALL,
            "marketing:write": Scope.ALL,
            "marketing:track": Scope.ALL,
            "kb:read": Scope.ALL,
            "tasks:read": Scope.OWN,
            "tasks:write": Scope.OWN,
        },
    ),
    "integrator": ("Integrator (API key)", {"integrations:sales": Scope.ALL, "marketing:track": Scope.ALL}),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (by token) or an integrator (by API key), resolved once per request."""

    user_id: int | None
    name: str
    team_id: int | None
    roles: tuple[str, ...]
    permissions: dict[str, Scope] = field(default_factory=dict)
    api_key_id: int | None = None
    full_name: str | None = None  # the user's, as records that point at them show it (`created_by_name`)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def scope(self, permission: str) -> Scope:
        if permission not in self.permissions:
            raise Forbidden(f"Missing permission {permission}", code="auth.missing_permission")
        return self.permissions[permission]

    def require(self, permission: str) -> None:
        self.scope(permission)

    @property
    def label(self) -> str:
        return self.name if self.api_key_id is None else f"api-key:{self.name}"


# The caller's ids as named parameters (`scope_values`), in a statement built once for every caller of a scope shape.
SCOPE_USER = "scope_user_id"
SCOPE_TEAM = "scope_team_id"


def scope_shape(principal: Principal, permission: str) -> tuple[Scope, bool, bool]:
    """What the structure of the principal's `scope_clause` depends on; the ids in it are its values."""
    return principal.scope(permission), principal.user_id is not None, principal.team_id is not None


class PerScopeShape(Generic[T]):
    """Statements built once per permission and shape of the caller's scope (`scope_shape`), each then run with
    `scope_values(principal)`: building a select costs a hot read more than PostgreSQL takes to run it."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, tuple[Scope, bool, bool]], T] = {}

    def get(self, principal: Principal, permission: str, build: Callable[[], T]) -> T:
        key = (permission, scope_shape(principal, permission))
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = build()
        return built


def scope_values(principal: Principal) -> dict[str, int | None]:
    """The named parameters of a `scope_clause(…, named=True)`."""
    return {SCOPE_USER: principal.user_id, SCOPE_TEAM: principal.team_id}


def scope_clause(
    principal: Principal,
    permission: str,
    owner_column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None],
    *,
    named: bool = False,
) -> ColumnElement[bool]:
    """The WHERE clause limiting `owner_column` to what the principal may see under `permission`. `named`: the
    principal's ids are the parameters `scope_values` names, so the clause serves every caller of its `scope_shape`."""
    scope = principal.scope(permission)
    if scope is Scope.ALL:
        return true()
    if principal.user_id is None:
        return false()
    if scope is Scope.TEAM and principal.team_id is not None:
        team: int | BindParameter[int] = bindparam(SCOPE_TEAM, principal.team_id) if named else principal.team_id
        return owner_column.in_(select(_USERS.c.id).where(_USERS.c.team_id == team))
    return owner_column == (bindparam(SCOPE_USER, principal.user_id) if named else principal.user_id)


def merge_permissions(grants: list[tuple[str, str]]) -> dict[str, Scope]:
    """Union of role grants: the widest scope wins."""
    merged: dict[str, Scope] = {}
    for permission, raw_scope in grants:
        scope = Scope(raw_scope)
        if permission not in merged or SCOPE_RANK[scope] > SCOPE_RANK[merged[permission]]:
            merged[permission] = scope
    return merged
