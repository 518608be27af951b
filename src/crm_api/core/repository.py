"""The generic repository every domain repository builds on: get, scoped select, keyset page."""

from collections.abc import Collection, Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Exists, Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from crm_api.core.errors import NotFound
from crm_api.core.orm import Base
from crm_api.core.pagination import PageParams, PageRows, Rows, Sort, Window, paginate
from crm_api.core.permissions import Principal

M = TypeVar("M", bound=Base)


S = TypeVar("S", bound=Select[Any])
T = TypeVar("T")


# The escape character of a LIKE pattern that holds a caller's text as plain characters (`like_text`).
LIKE_ESCAPE = "/"


def like_text(text: str) -> str:
    """`text` for a LIKE pattern escaped by LIKE_ESCAPE: its % and _ match only themselves."""
    return text.replace(LIKE_ESCAPE, 2 * LIKE_ESCAPE).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def among(column: InstrumentedAttribute[T], values: Iterable[T]) -> ColumnElement[bool]:
    """`column IN (…)` of fixed values (a policy's statuses), each a parameter of its own, for the hot reads. `in_()` of
    a list binds one expanding parameter, which SQLAlchemy renders into the statement's text again on every execution:
    3 % of an order history."""
    return column.in_([literal(value, column.type) for value in values])


def locked(statement: S, of: Any = None) -> S:
    """The statement's rows locked till commit, read at their latest committed version even when the session holds
    them already: what an If-Match is checked against. `of`: the entity to lock when the statement joins others."""
    return statement.with_for_update(of=of).execution_options(populate_existing=True)


def skip_locked(session: AsyncSession, statement: Any, **options: Any) -> Any:
    """FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent dispatchers claim different rows; SQLite has no row locks
    (one writer at a time anyway)."""
    if session.get_bind().dialect.name != "postgresql":
        return statement
    return statement.with_for_update(skip_locked=True, **options)


class Repository(Generic[M]):
    model: type[M]
    # The aggregate policy's `visible(principal, permission)`, the WHERE clause of the rows a caller may
    # see, as `staticmethod(policy.visible)` (typed so, or mypy binds `principal` as self); None: no data scope.
    visible: ClassVar["staticmethod[[Principal, str], ColumnElement[bool]] | None"] = None

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_404(self, entity_id: int, label: str) -> M:
        """The entity, or NotFound naming it as `label` ("Team" → code `team.not_found`)."""
        entity = await self.get(entity_id)
        if entity is None:
            raise NotFound(label, entity_id)
        return entity

    async def get(self, entity_id: int, *, include_deleted: bool = False) -> M | None:
        entity = await self.session.get(self.model, entity_id)
        if entity is not None and not include_deleted and getattr(entity, "deleted_at", None) is not None:
            return None
        return entity

    async def last_id(self) -> int:
        """The highest id so far (0: none): rows a set-based insert adds after reading it have larger ids."""
        return int(await self.session.scalar(select(func.max(self.model.id))) or 0)  # type: ignore[attr-defined]  # Base declares no id

    def select(self, *, include_deleted: bool = False) -> Select[M]:
        statement = select(self.model)
        deleted_at = getattr(self.model, "deleted_at", None)
        if deleted_at is not None and not include_deleted:
            statement = statement.where(deleted_at.is_(None))
        return statement

    def scoped(self, principal: Principal, permission: str, *, include_deleted: bool = False) -> Select[M]:
        """Rows the principal may see under `permission`: the one place data scopes are applied."""
        statement = self.select(include_deleted=include_deleted)
        visible = type(self).visible
        if visible is not None:
            statement = statement.where(visible(principal, permission))
        return statement

    async def get_scoped(
        self, entity_id: int, principal: Principal, permission: str, *, include_deleted: bool = False, for_update: bool = False
    ) -> M | None:
        """`for_update`: lock the row till commit and read its latest committed version (an If-Match check)."""
        statement = self.scoped(principal, permission, include_deleted=include_deleted).where(
            self.model.id == entity_id  # type: ignore[attr-defined]  # Base declares no id; every repository's model maps one
        )
        return await self.session.scalar(locked(statement) if for_update else statement)

    def scoped_exists(self, entity_id: int, principal: Principal, permission: str) -> Exists:
        """The condition that the entity exists, is live and is within the principal's scope of `permission`: a
        statement about the entity's records asks it in the same round trip."""
        key = self.model.id  # type: ignore[attr-defined]  # Base declares no id; every repository's model maps one
        return self.scoped(principal, permission).where(key == entity_id).with_only_columns(key).exists()

    async def is_scoped(self, entity_id: int, principal: Principal, permission: str) -> bool:
        """Whether the entity exists, is live and is within the principal's scope of `permission`."""
        return bool(await self.session.scalar(select(self.scoped_exists(entity_id, principal, permission))))

    async def get_scoped_or_404(
        self, entity_id: int, principal: Principal, permission: str, label: str, *, for_update: bool = False
    ) -> M:
        """The entity if the principal may see it under `permission`, else NotFound naming it as `label`:
        a record outside the caller's scope answers as if it did not exist."""
        entity = await self.get_scoped(entity_id, principal, permission, for_update=for_update)
        if entity is None:
            raise NotFound(label, entity_id)
        return entity

    async def ids_by_external_id(self, external_ids: Collection[str]) -> dict[str, int]:
        """external_id -> id of every row carrying one of them, whatever its scope or state: the service that then
        changes the row checks those."""
        if not external_ids:
            return {}
        external_id, key = self.model.external_id, self.model.id  # type: ignore[attr-defined]  # the models imports upsert map both
        rows = await self.session.execute(select(external_id, key).where(external_id.in_(list(external_ids))))
        return {row[0]: row[1] for row in rows}

    async def page(
        self,
        statement: Select[Any],
        params: PageParams,
        sort: Sort | None = None,
        *,
        rows: PageRows = PageRows.ENTITIES,
        parameters: Mapping[str, Any] | None = None,
        window: Window | None = None,
    ) -> Rows:
        """`rows`: what the statement selects (`PageRows`). `parameters`: values of the statement's named parameters
        (`scope_values`). `window`: see `Window`."""
        sort = sort or Sort([self.model.id])  # type: ignore[attr-defined]  # Base declares no id
        return await paginate(self.session, statement, params, sort, rows=rows, parameters=parameters, window=window)
