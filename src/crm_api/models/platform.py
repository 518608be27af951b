"""The data dictionary every domain draws its values from; the audit trail and job runs are core's (core.tables),
read here by the domains that list them."""

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.cache import forgotten_on_write
from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.pubsub import REFERENCE_CHANNEL
from crm_api.core.tables import AuditEvent, JobRun

# Core's tables the domains and tests read, where they have always found them.
__all__ = ["AuditEvent", "DictionaryItem", "JobRun"]


class DictionaryItem(Versioned, Timestamped, Base):
    __tablename__ = "dictionary_items"
    # Every worker keeps the active values (every write checks against them): a change makes each forget them.
    __table_args__ = (UniqueConstraint("category", "value"), forgotten_on_write(REFERENCE_CHANNEL))

    id: Mapped[IntPK]
    category: Mapped[str] = mapped_column(String(50), index=True)
    label: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(100))
    sort_order: Mapped[int] = mapped_column(default=0)
    editable: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
