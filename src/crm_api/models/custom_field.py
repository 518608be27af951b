"""Custom field definitions; the values live in each entity's `custom_fields` JSON column."""

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.cache import forgotten_on_write
from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.pubsub import REFERENCE_CHANNEL
from crm_api.core.rules import one_of
from crm_api.custom_fields.policy import CustomFieldEntity, CustomFieldType


class CustomFieldDefinition(Versioned, Timestamped, Base):
    __tablename__ = "custom_field_definitions"
    __table_args__ = (
        UniqueConstraint("entity", "key"),
        CheckConstraint(one_of("entity", CustomFieldEntity), name="entity_known"),
        CheckConstraint(one_of("type", CustomFieldType), name="type_known"),
        # Every worker keeps the definitions (every write and filter reads them): a change makes each forget them.
        forgotten_on_write(REFERENCE_CHANNEL),
    )

    id: Mapped[IntPK]
    entity: Mapped[CustomFieldEntity] = mapped_column(String(16))
    # The name of the value in `custom_fields`, a filter's `cf.<key>`: never changes once created.
    key: Mapped[str] = mapped_column(String(50))
    label: Mapped[str] = mapped_column(String(100))
    type: Mapped[CustomFieldType] = mapped_column(String(16))
    # The dictionary category of a choice or multi-choice field's values.
    dictionary_category: Mapped[str | None] = mapped_column(String(50))
    required: Mapped[bool] = mapped_column(default=False)
    # `unique` is an SQL keyword: the column is named for what it means.
    unique: Mapped[bool] = mapped_column("unique_among_live", default=False)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
