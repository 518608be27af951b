"""The generic repository every domain repository builds on: get, scoped select, keyset page."""

from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from crm_api.core.pagination import PageParams, Rows, Sort, paginate
from crm_api.core.permissions import Principal, scope_clause
from crm_api.models.base import Base

M = TypeVar("M", bound=Base)


class Repository(Generic[M]):
    model: type[M]
    # The column whose user (and that user's team) a data scope is checked against.
    owner_column: InstrumentedAttribute[Any] | None = None

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, entity_id: int, *, include_deleted: bool = False) -> M | None:
        entity = await self.session.get(self.model, entity_id)
        if entity is not None and not include_deleted and getattr(entity, "deleted_at", None) is not None:
            return None
        return entity

    def select(self, *, include_deleted: bool = False) -> Select[tuple[M]]:
        statement = select(self.model)
        deleted_at = getattr(self.model, "deleted_at", None)
        if deleted_at is not None and not include_deleted:
            statement = statement.where(deleted_at.is_(None))
        return statement

    def scoped(self, principal: Principal, permission: str, *, include_deleted: bool = False) -> Select[tuple[M]]:
        """Rows the principal may see under `permission`: the one place data scopes are applied."""
        statement = self.select(include_deleted=include_deleted)
        owner_column = type(self).owner_column  # read off the class: on an instance it is a descriptor
        if owner_column is not None:
            statement = statement.where(scope_clause(principal, permission, owner_column))
        return statement

    async def get_scoped(
        self, entity_id: int, principal: Principal, permission: str, *, include_deleted: bool = False
    ) -> M | None:
        statement = self.scoped(principal, permission, include_deleted=include_deleted).where(
            self.model.id == entity_id  # type: ignore[attr-defined]
        )
        return await self.session.scalar(statement)

    async def page(
        self, statement: Select[Any], params: PageParams, sort: Sort | None = None
    ) -> Rows:
        return await paginate(self.session, statement, params, sort or Sort([self.model.id]))  # type: ignore[attr-defined]
