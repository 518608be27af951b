"""The one declarative registry, its naming convention and the mixins every table shares; core owns it so its
own tables (core.tables) need no model."""

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from sqlalchemy import JSON, Index, Integer, MetaData, String, Table, Uuid, literal_column, text
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from crm_api.core.clock import clock
from crm_api.core.types import BigIntPK, Money, UTCDateTime

# Named constraints, so an integrity error can be mapped back to a field.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

IntPK = Annotated[int, mapped_column(primary_key=True, autoincrement=True)]

# `info` of a schema object that only PostgreSQL has (trigram GIN indexes): migrations create it
# there alone, and schema comparison on another database leaves it out.
POSTGRESQL_ONLY = {"postgresql_only": True}


def external_id_index(table: str) -> Index:
    """`external_id`, the record's id in the system it came from: unique where given (imports upsert on it)."""
    given = text("external_id IS NOT NULL")
    return Index(f"uq_{table}_external_id", "external_id", unique=True, sqlite_where=given, postgresql_where=given)


# Names the indexes the service builds while it runs (one per custom field): no migration's to compare or drop.
RUNTIME_INDEX_PREFIX = "ix_cf_"


def schema_filter(dialect_name: str) -> Callable[..., bool]:
    """Alembic `include_object` hook: the model objects a database of this dialect is meant to hold."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
        if type_ == "index" and reflected and (name or "").startswith(RUNTIME_INDEX_PREFIX):
            return False
        return dialect_name == "postgresql" or reflected or not obj.info.get("postgresql_only", False)

    return include_object


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # int is BIGINT on PostgreSQL so keys and foreign keys agree; SQLite needs INTEGER.
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        int: BigIntPK,
        datetime: UTCDateTime(),
        Decimal: Money(),
        dict: JSON(),
        dict[str, Any]: JSON(),
        list: JSON(),
    }
    if TYPE_CHECKING:
        # DeclarativeBase types it as any FromClause; every model here maps a Table.
        __table__: ClassVar[Table]


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class SoftDeletable:
    deleted_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class Versioned:
    """Optimistic locking: `version` is the record's ETag and bumps on every change.

    The ORM writes each change as `UPDATE … WHERE id = :id AND version = :read` (a lost race raises
    StaleDataError, answered 409/412); a bulk UPDATE bumps it through `onupdate`.
    """

    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"), onupdate=literal_column("version") + 1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]  # a mixin: the mapped class has __table__


class ClientCreated:
    """A record a mobile client may create offline: `client_id` is the app's UUID for it, unique per creator (each
    table declares `UniqueConstraint("created_by_id", "client_id")`), and `client_digest` the digest of the create
    body, so a replayed create returns the record and the same UUID with another body is refused."""

    client_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    client_digest: Mapped[str | None] = mapped_column(String(64))
