"""The one declarative registry; every model module imports `Base` from here."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from sqlalchemy import JSON, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # int is BIGINT on PostgreSQL so keys and foreign keys agree; SQLite needs INTEGER.
    type_annotation_map = {
        int: BigIntPK,
        datetime: UTCDateTime(),
        Decimal: Money(),
        dict: JSON(),
        list: JSON(),
    }


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class SoftDeletable:
    deleted_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
