"""The sales pipeline: leads with their nurture trail and rules, opportunities with plans, stages and reminders."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.changes import Synced
from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK, Timestamped, Versioned, external_id_index
from crm_api.core.references import name_of
from crm_api.core.rules import one_of, status_check
from crm_api.core.types import EMPTY_DOCUMENT, JsonDocument
from crm_api.leads.policy import OPEN_STATUSES as OPEN_LEAD_STATUSES
from crm_api.leads.policy import LeadActivityKind, LeadStatus
from crm_api.models.identity import Team, User
from crm_api.opportunities.policy import OpportunityStatus

_OPEN_LEAD = text(one_of("status", OPEN_LEAD_STATUSES))


class Opportunity(Versioned, Timestamped, Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        status_check(OpportunityStatus),
        CheckConstraint("success_probability BETWEEN 0 AND 100", name="probability_range"),
        Index("ix_opportunities_assignee_id_id", "assignee_id", "id"),
        Index("ix_opportunities_created_by_id_id", "created_by_id", "id"),
        Index("ix_opportunities_status_stage_since", "status", "stage_since"),
        Index("ix_opportunities_customer_id", "customer_id"),  # a customer's overview, merge
        external_id_index("opportunities"),
        Synced("opportunity", owners=("created_by_id", "assignee_id")).table_info(),
    )

    id: Mapped[IntPK]
    code: Mapped[str] = mapped_column(String(20), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "lead_source"})
    customer_name: Mapped[str] = mapped_column(String(200))
    success_probability: Mapped[int]
    summary: Mapped[str] = mapped_column(String(300))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    expected_amount: Mapped[Decimal | None]
    expected_close_date: Mapped[date | None]
    stage: Mapped[str] = mapped_column(String(100), info={"dictionary": "opportunity_stage"})
    status: Mapped[OpportunityStatus] = mapped_column(String(16), default=OpportunityStatus.UNASSIGNED)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_name: Mapped[str | None] = name_of(User.full_name, assignee_id)
    assigned_at: Mapped[datetime | None]
    # When the stage last changed, or the assignment time until it first does: what the stall job measures.
    stage_since: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    # Values of the admin-defined custom fields (custom_fields.service validates them), by key.
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict, server_default=EMPTY_DOCUMENT)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))


class PlanItem(Versioned, Timestamped, Base):
    """One step of an opportunity's development plan (客户开发计划)."""

    __tablename__ = "opportunity_plan_items"
    __table_args__ = (Index("ix_opportunity_plan_items_opportunity_id_planned_on", "opportunity_id", "planned_on"),)

    id: Mapped[IntPK]
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    planned_on: Mapped[date]
    content: Mapped[str] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)


class StageChange(Base):
    __tablename__ = "opportunity_stage_changes"

    id: Mapped[IntPK]
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str] = mapped_column(String(100))
    to_stage: Mapped[str] = mapped_column(String(100))
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=clock.now)


class Reminder(Base):
    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_user_id_id", "user_id", "id"),
        # At most one open reminder of a kind per opportunity, whoever raises it.
        Index(
            "uq_reminders_open_per_opportunity",
            "opportunity_id",
            "kind",
            unique=True,
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
    )

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    done_at: Mapped[datetime | None]


class LeadAssignmentRule(Versioned, Timestamped, Base):
    __tablename__ = "lead_assignment_rules"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="one_target"),
        Index("ix_lead_assignment_rules_priority", "priority", "id"),
    )

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(default=100)
    # A null criterion matches anything.
    region: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "region"})
    industry: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "industry"})
    source: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "lead_source"})
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user_name: Mapped[str | None] = name_of(User.full_name, user_id)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    team_name: Mapped[str | None] = name_of(Team.name, team_id)
    active: Mapped[bool] = mapped_column(default=True)
    # Round-robin state: the team member who got the previous lead.
    last_assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LeadScoringRule(Base):
    __tablename__ = "lead_scoring_rules"
    __table_args__ = (
        CheckConstraint(
            "criterion IN ('field_present', 'source', 'region', 'industry', 'activity_count')", name="criterion_known"
        ),
    )

    id: Mapped[IntPK]
    criterion: Mapped[str] = mapped_column(String(20))
    # The field name, the dictionary value, or the minimum number of activities.
    value: Mapped[str] = mapped_column(String(100))
    points: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)


class Lead(Versioned, Timestamped, Base):
    __tablename__ = "leads"
    __table_args__ = (
        status_check(LeadStatus),
        CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
        Index("ix_leads_owner_id_id", "owner_id", "id"),
        # The de-duplication rule, also under concurrent captures: one open lead per phone and per email.
        Index("uq_leads_open_phone", "phone_e164", unique=True, sqlite_where=_OPEN_LEAD, postgresql_where=_OPEN_LEAD),
        Index("uq_leads_open_email", "email_normalized", unique=True, sqlite_where=_OPEN_LEAD, postgresql_where=_OPEN_LEAD),
        external_id_index("leads"),
    )

    id: Mapped[IntPK]
    external_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "lead_source"})
    company: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    email_normalized: Mapped[str | None] = mapped_column(String(254))
    region: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "region"})
    industry: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "industry"})
    notes: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    owner_name: Mapped[str | None] = name_of(User.full_name, owner_id)
    status: Mapped[LeadStatus] = mapped_column(String(16), default=LeadStatus.NEW)
    score: Mapped[int] = mapped_column(default=0)
    score_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    assignment_rule_id: Mapped[int | None] = mapped_column(ForeignKey("lead_assignment_rules.id", ondelete="SET NULL"))
    disqualify_reason: Mapped[str | None] = mapped_column(String(500))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    converted_at: Mapped[datetime | None]
    # Values of the admin-defined custom fields (custom_fields.service validates them), by key.
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict, server_default=EMPTY_DOCUMENT)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)


class LeadActivity(Base):
    """The nurture trail: what the lead did or what we did with them, and when."""

    __tablename__ = "lead_activities"
    __table_args__ = (
        CheckConstraint(one_of("kind", LeadActivityKind), name="kind_known"),
        Index("ix_lead_activities_lead_id_occurred_at", "lead_id", "occurred_at"),
    )

    id: Mapped[IntPK]
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    kind: Mapped[LeadActivityKind] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)
