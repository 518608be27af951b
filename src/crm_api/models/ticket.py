"""Service tickets (客户服务) with their history, SLA policies, routing rules and the knowledge base."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.references import name_of
from crm_api.core.rules import status_check
from crm_api.core.types import EMPTY_DOCUMENT, JsonDocument
from crm_api.models.customer import Customer
from crm_api.models.identity import User
from crm_api.tickets.policy import TicketChannel, TicketPriority, TicketStatus


class ServiceTicket(Versioned, Timestamped, Base):
    __tablename__ = "service_tickets"
    __table_args__ = (
        status_check(TicketStatus),
        status_check(TicketChannel, column="channel"),
        status_check(TicketPriority, column="priority"),
        Index("ix_service_tickets_customer_id_id", "customer_id", "id"),
        Index("ix_service_tickets_assignee_id_status", "assignee_id", "status"),
        Index("ix_service_tickets_status", "status"),
    )

    id: Mapped[IntPK]
    code: Mapped[str] = mapped_column(String(20), unique=True)
    service_type: Mapped[str] = mapped_column(String(100), info={"dictionary": "service_type"})
    summary: Mapped[str] = mapped_column(String(300))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    customer_name: Mapped[str | None] = name_of(Customer.name, customer_id)
    channel: Mapped[TicketChannel] = mapped_column(String(16))
    priority: Mapped[TicketPriority] = mapped_column(String(16), default=TicketPriority.NORMAL)
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[TicketStatus] = mapped_column(String(16), default=TicketStatus.NEW)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_name: Mapped[str | None] = name_of(User.full_name, assignee_id)
    assigned_at: Mapped[datetime | None]
    routing_rule_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_routing_rules.id", ondelete="SET NULL"))
    # SLA targets fixed from the policy in force when the ticket was created.
    response_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    first_handled_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    # Values of the admin-defined custom fields (custom_fields.service validates them), by key.
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict, server_default=EMPTY_DOCUMENT)

    assignments: Mapped[list["TicketAssignment"]] = relationship(lazy="raise", order_by="TicketAssignment.id")
    handlings: Mapped[list["TicketHandling"]] = relationship(lazy="raise", order_by="TicketHandling.id")
    feedbacks: Mapped[list["TicketFeedback"]] = relationship(lazy="raise", order_by="TicketFeedback.id")


class TicketAssignment(Base):
    __tablename__ = "ticket_assignments"

    id: Mapped[IntPK]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("service_tickets.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    routing_rule_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_routing_rules.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime] = mapped_column(default=clock.now)


class TicketHandling(Base):
    __tablename__ = "ticket_handlings"

    id: Mapped[IntPK]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("service_tickets.id", ondelete="CASCADE"), index=True)
    handler_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    method: Mapped[str] = mapped_column(Text)
    handled_at: Mapped[datetime] = mapped_column(default=clock.now)


class TicketFeedback(Base):
    __tablename__ = "ticket_feedbacks"
    __table_args__ = (CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),)

    id: Mapped[IntPK]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("service_tickets.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    result: Mapped[str] = mapped_column(Text)
    satisfaction: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class SlaPolicy(Versioned, Timestamped, Base):
    __tablename__ = "sla_policies"
    __table_args__ = (
        UniqueConstraint("service_type", "priority"),
        status_check(TicketPriority, column="priority"),
    )

    id: Mapped[IntPK]
    service_type: Mapped[str] = mapped_column(String(100), info={"dictionary": "service_type"})
    priority: Mapped[TicketPriority] = mapped_column(String(16))
    first_response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]


class TicketRoutingRule(Versioned, Timestamped, Base):
    __tablename__ = "ticket_routing_rules"
    __table_args__ = (CheckConstraint("customer_level IS NOT NULL OR service_type IS NOT NULL", name="matches_something"),)

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(100))
    customer_level: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "customer_level"})
    service_type: Mapped[str | None] = mapped_column(String(100), info={"dictionary": "service_type"})
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Lower first; the first matching rule wins.
    sort_order: Mapped[int] = mapped_column(default=0)


class KbArticle(Versioned, Timestamped, Base):
    __tablename__ = "kb_articles"

    id: Mapped[IntPK]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)
    # Filled only by a keyword search: how well the article matches.
    relevance: Mapped[int | None] = query_expression()


class TicketArticle(Base):
    __tablename__ = "ticket_articles"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("service_tickets.id", ondelete="CASCADE"), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True, index=True)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    linked_at: Mapped[datetime] = mapped_column(default=clock.now)
