"""Marketing: saved customer segments, RFM scores, campaigns with A/B variants, and recorded touches."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.references import name_of
from crm_api.core.rules import one_of, status_check
from crm_api.marketing.policy import ONCE_PER_CONTACT_KINDS, CampaignChannel, CampaignStatus, TouchKind
from crm_api.models.identity import User


class Segment(Versioned, Timestamped, Base):
    """A saved, typed filter over customers, evaluated live."""

    __tablename__ = "segments"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)


class CustomerRfm(Base):
    """Recency, frequency and monetary quintiles (1-5, 5 best) of a customer's last 12 months of completed orders."""

    __tablename__ = "customer_rfm"
    __table_args__ = tuple(
        CheckConstraint(f"{score} BETWEEN 1 AND 5", name=f"{score}_range")
        for score in ("recency_score", "frequency_score", "monetary_score")
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    recency_score: Mapped[int]
    frequency_score: Mapped[int]
    monetary_score: Mapped[int]
    last_order_date: Mapped[date]
    order_count: Mapped[int]
    order_total: Mapped[Decimal]
    computed_at: Mapped[datetime]


class Campaign(Versioned, Timestamped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        status_check(CampaignStatus),
        CheckConstraint(one_of("channel", CampaignChannel), name="channel_known"),
        CheckConstraint("budget >= 0", name="budget_not_negative"),
        CheckConstraint("ends_on >= starts_on", name="period_ordered"),
    )

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str | None] = mapped_column(String(500))
    budget: Mapped[Decimal]
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    channel: Mapped[CampaignChannel] = mapped_column(String(16))
    status: Mapped[CampaignStatus] = mapped_column(String(16), default=CampaignStatus.DRAFT, index=True)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"), index=True)
    segment_name: Mapped[str | None] = name_of(Segment.name, segment_id)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)


class CampaignVariant(Versioned, Timestamped, Base):
    """One content variant of an A/B test; contacts are split over variants by weight."""

    __tablename__ = "campaign_variants"
    __table_args__ = (
        UniqueConstraint("campaign_id", "name"),
        CheckConstraint("weight BETWEEN 1 AND 1000", name="weight_range"),
    )

    id: Mapped[IntPK]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    weight: Mapped[int]


class CampaignTouch(Base):
    """A tracked contact of a campaign with a contact (sent, opened, clicked, converted)."""

    __tablename__ = "campaign_touches"
    __table_args__ = (
        CheckConstraint(one_of("kind", TouchKind), name="kind_known"),
        Index("ix_campaign_touches_campaign_id_kind", "campaign_id", "kind"),
        Index("ix_campaign_touches_contact_id_occurred_at", "contact_id", "occurred_at"),
        # Tracking pixels and retries repeat: one sent/opened/clicked per campaign and contact.
        Index(
            "uq_campaign_touches_once",
            "campaign_id",
            "contact_id",
            "kind",
            unique=True,
            sqlite_where=text(one_of("kind", ONCE_PER_CONTACT_KINDS)),
            postgresql_where=text(one_of("kind", ONCE_PER_CONTACT_KINDS)),
        ),
    )

    id: Mapped[IntPK]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_variants.id", ondelete="SET NULL"))
    kind: Mapped[TouchKind] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    # The business-time day of the touch, compared with order dates by attribution.
    occurred_on: Mapped[date]
    created_at: Mapped[datetime]
