"""Churn warnings (流失预警) raised by the weekly scan, with the owner's postpone measures."""

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_api.churn.policy import LIVE_STATUSES, ChurnWarningStatus
from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.references import name_of
from crm_api.core.rules import one_of, status_check
from crm_api.models.identity import User

_LIVE = text(one_of("status", LIVE_STATUSES))


class ChurnWarning(Versioned, Timestamped, Base):
    __tablename__ = "churn_warnings"
    __table_args__ = (
        status_check(ChurnWarningStatus),
        # Backstop for exactly-once: even two scans racing cannot give a customer two live warnings.
        Index(
            "uq_churn_warnings_live_customer",
            "customer_id",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
        Index("ix_churn_warnings_customer_id", "customer_id"),
        Index("ix_churn_warnings_status", "status"),
    )

    id: Mapped[IntPK]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[ChurnWarningStatus] = mapped_column(String(16), default=ChurnWarningStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(default=clock.now)
    # The last completed order when the warning was raised (none: judged by the customer's age).
    last_order_date_at_open: Mapped[date | None]
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_by_name: Mapped[str | None] = name_of(User.full_name, confirmed_by_id)
    confirm_reason: Mapped[str | None] = mapped_column(Text)

    measures: Mapped[list["ChurnMeasure"]] = relationship(lazy="raise", order_by="ChurnMeasure.id")


class ChurnMeasure(Base):
    """A postpone measure (暂缓措施); append-only."""

    __tablename__ = "churn_measures"

    id: Mapped[IntPK]
    warning_id: Mapped[int] = mapped_column(ForeignKey("churn_warnings.id", ondelete="CASCADE"), index=True)
    measure: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
