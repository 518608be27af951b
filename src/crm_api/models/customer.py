"""Customers with their contacts, interaction records and tags."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Double, ForeignKey, Index, String, Text, UniqueConstraint, false, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from crm_api.core.changes import Synced
from crm_api.core.clock import clock
from crm_api.core.names import normalize_company_name
from crm_api.core.orm import POSTGRESQL_ONLY, Base, ClientCreated, IntPK, SoftDeletable, Timestamped, Versioned, external_id_index
from crm_api.core.references import name_of
from crm_api.core.rules import one_of, status_check
from crm_api.core.types import EMPTY_DOCUMENT, JsonDocument
from crm_api.customers.policy import CustomerStatus, OwnershipAction
from crm_api.models.identity import User

# Columns `q` searches by substring.
SEARCHED_COLUMNS = ("name", "code", "phone", "phone_e164")
# The live customers the duplicate guard's unique indexes hold to one per name and per phone (§3.12): duplicates
# that predate the guard are marked `legacy_duplicate` by its migration and wait outside them for a merge.
GUARDED = "deleted_at IS NULL AND NOT legacy_duplicate"


class Customer(Versioned, Timestamped, SoftDeletable, ClientCreated, Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        UniqueConstraint("created_by_id", "client_id"),
        CheckConstraint("credit BETWEEN 1 AND 5", name="credit_range"),
        status_check(CustomerStatus),
        Index("ix_customers_owner_id_id", "owner_id", "id"),
        # Search is "name, code or phone contains q": one trigram index per column, so PostgreSQL can
        # answer the OR with a bitmap of index scans instead of reading a million rows.
        *(
            Index(
                f"ix_customers_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
                info=POSTGRESQL_ONLY,
            )
            for column in SEARCHED_COLUMNS
        ),
        # The duplicate guard compares emails case-blind.
        Index("ix_customers_email_lower", func.lower(text("email"))),
        Index(
            "uq_customers_name_normalized",
            "name_normalized",
            unique=True,
            sqlite_where=text(f"{GUARDED} AND name_normalized <> ''"),
            postgresql_where=text(f"{GUARDED} AND name_normalized <> ''"),
        ),
        Index(
            "uq_customers_phone_e164",
            "phone_e164",
            unique=True,
            sqlite_where=text(f"{GUARDED} AND phone_e164 IS NOT NULL"),
            postgresql_where=text(f"{GUARDED} AND phone_e164 IS NOT NULL"),
        ),
        # `?cf.<key>=value` is `custom_fields @> '{"<key>": value}'`, which this index answers.
        Index(
            "ix_customers_custom_fields",
            "custom_fields",
            postgresql_using="gin",
            postgresql_ops={"custom_fields": "jsonb_path_ops"},
            info=POSTGRESQL_ONLY,
        ),
        Synced("customer", owners=("owner_id",), live="deleted_at").table_info(),
    )

    id: Mapped[IntPK]
    code: Mapped[str] = mapped_column(String(20), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The duplicate-detection key of the name, kept in step by `_keep_name_normalized`.
    name_normalized: Mapped[str] = mapped_column(String(200), index=True)
    region: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "region"})
    # None: the customer is in the pool (公海), free to claim.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set while its owner has locked it: the recycle job leaves it with them.
    locked_at: Mapped[datetime | None]
    # A duplicate of an older customer from before the duplicate guard: outside its unique indexes until merged.
    legacy_duplicate: Mapped[bool] = mapped_column(default=False, server_default=false())
    owner_name: Mapped[str | None] = name_of(User.full_name, owner_id)
    level: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "customer_level"})
    industry: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "industry"})
    satisfaction: Mapped[int | None]
    credit: Mapped[int | None]
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    fax: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(254))
    business_licence_no: Mapped[str | None] = mapped_column(String(64))
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    registered_capital: Mapped[Decimal | None]
    annual_turnover: Mapped[Decimal | None]
    bank: Mapped[str | None] = mapped_column(String(200))
    bank_account: Mapped[str | None] = mapped_column(String(64))
    local_tax_no: Mapped[str | None] = mapped_column(String(64))
    national_tax_no: Mapped[str | None] = mapped_column(String(64))
    # Values of the admin-defined custom fields (custom_fields.service validates them), by key.
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    status: Mapped[CustomerStatus] = mapped_column(String(16), default=CustomerStatus.ACTIVE, index=True)
    churned_at: Mapped[datetime | None]
    # Set when its personal data was erased (§3.11): the record is read-only from then on.
    erased_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)

    contacts: Mapped[list["Contact"]] = relationship(back_populates="customer", lazy="raise")
    tags: Mapped[list["CustomerTag"]] = relationship(cascade="all, delete-orphan", lazy="raise")

    @property
    def locked(self) -> bool:
        return self.locked_at is not None

    @validates("name")
    def _keep_name_normalized(self, _key: str, name: str) -> str:
        self.name_normalized = normalize_company_name(name)
        return name


class CustomerTag(Base):
    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_tag", "tag"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)


class Contact(Versioned, Timestamped, ClientCreated, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint("gender IN ('male', 'female', 'other')", name="gender_known"),
        external_id_index("contacts"),
        UniqueConstraint("created_by_id", "client_id"),
        Synced("contact", parent="customer_id").table_info(),
    )

    id: Mapped[IntPK]
    external_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    customer_name: Mapped[str | None] = name_of(Customer.name, customer_id)
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(100))
    # Required on input; null only once erased.
    office_phone: Mapped[str | None] = mapped_column(String(40))
    office_phone_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    mobile: Mapped[str | None] = mapped_column(String(40))
    mobile_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str | None] = mapped_column(Text)
    # Derived from the consent log: a marketing purpose whose latest record is a grant.
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    # Values of the admin-defined custom fields (custom_fields.service validates them), by key.
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict, server_default=EMPTY_DOCUMENT)
    erased_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship(back_populates="contacts", lazy="raise")


class Interaction(Versioned, Timestamped, ClientCreated, Base):
    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_customer_id_occurred_on", "customer_id", "occurred_on"),
        UniqueConstraint("created_by_id", "client_id"),
        # A field visit's check-in (外勤打卡): all four values or none.
        CheckConstraint("checkin_latitude BETWEEN -90 AND 90", name="checkin_latitude_range"),
        CheckConstraint("checkin_longitude BETWEEN -180 AND 180", name="checkin_longitude_range"),
        CheckConstraint("checkin_accuracy_m >= 0", name="checkin_accuracy_range"),
        CheckConstraint(
            "(checkin_latitude IS NULL) = (checkin_longitude IS NULL) AND (checkin_latitude IS NULL) = "
            "(checkin_accuracy_m IS NULL) AND (checkin_latitude IS NULL) = (checked_in_at IS NULL)",
            name="checkin_complete",
        ),
        Synced("interaction", parent="customer_id").table_info(),
    )

    id: Mapped[IntPK]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    customer_name: Mapped[str | None] = name_of(Customer.name, customer_id)
    occurred_on: Mapped[date]
    location: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checkin_latitude: Mapped[float | None] = mapped_column(Double)
    checkin_longitude: Mapped[float | None] = mapped_column(Double)
    checkin_accuracy_m: Mapped[float | None] = mapped_column(Double)
    checked_in_at: Mapped[datetime | None]
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)


class ContactConsent(Base):
    """Append-only log of a contact's consents; nothing updates or deletes a row."""

    __tablename__ = "contact_consents"
    __table_args__ = (Index("ix_contact_consents_contact_id_at", "contact_id", "at"),)

    id: Mapped[IntPK]
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(50))
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=clock.now)


class OwnershipChange(Base):
    """Append-only history of who owned a customer: the first owner at create, every claim, release, recycle,
    transfer and merge, and its locks and unlocks."""

    __tablename__ = "customer_ownership_changes"
    __table_args__ = (
        CheckConstraint(one_of("action", OwnershipAction), name="action_known"),
        Index("ix_customer_ownership_changes_customer_id_id", "customer_id", "id"),
        # A merge leaves the loser's history with the loser: it is about who owned that record.
        {"info": {"stays_on_merge": True}},
    )

    id: Mapped[IntPK]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    # None on either side: the pool.
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[OwnershipAction] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=clock.now)


class RecycleRule(Base):
    """When an owned customer of a level goes back to the pool (§3.12); `level` "*" is the rule of every other level."""

    __tablename__ = "customer_recycle_rules"
    __table_args__ = (
        CheckConstraint("no_interaction_days > 0", name="no_interaction_days_positive"),
        CheckConstraint("no_deal_days > 0", name="no_deal_days_positive"),
        CheckConstraint("warning_days >= 0", name="warning_days_not_negative"),
    )

    level: Mapped[str] = mapped_column(String(100), primary_key=True)
    # None: that condition never recycles.
    no_interaction_days: Mapped[int | None]
    no_deal_days: Mapped[int | None]
    warning_days: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
