"""Collaboration: tasks with their related record, and documents attached to customers and their contracts."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.changes import Synced
from crm_api.core.orm import Base, ClientCreated, IntPK, Timestamped, Versioned
from crm_api.core.references import name_of
from crm_api.core.rules import status_check
from crm_api.models.customer import Customer
from crm_api.models.identity import User
from crm_api.tasks.policy import TaskKind, TaskPriority, TaskRelatedType, TaskStatus

# The rows of the one-open-follow-up-per-customer index.
OPEN_FOLLOW_UP = f"kind = '{TaskKind.FOLLOW_UP}' AND status = '{TaskStatus.OPEN}'"


class Task(Versioned, Timestamped, ClientCreated, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        status_check(TaskStatus),
        status_check(TaskPriority, column="priority"),
        status_check(TaskKind, column="kind"),
        status_check(TaskRelatedType, column="related_type"),
        CheckConstraint("(related_type IS NULL) = (related_id IS NULL)", name="related_complete"),
        Index("ix_tasks_assignee_id_id", "assignee_id", "id"),
        Index("ix_tasks_created_by_id_id", "created_by_id", "id"),
        Index("ix_tasks_related_type_related_id", "related_type", "related_id"),
        Index("ix_tasks_status_due_at", "status", "due_at"),
        # One open follow-up per customer, even if two job runs raced past the lock.
        Index(
            "uq_tasks_open_follow_up",
            "related_id",
            unique=True,
            sqlite_where=text(OPEN_FOLLOW_UP),
            postgresql_where=text(OPEN_FOLLOW_UP),
        ),
        UniqueConstraint("created_by_id", "client_id"),
        Synced("task", owners=("assignee_id", "created_by_id")).table_info(),
    )

    id: Mapped[IntPK]
    title: Mapped[str] = mapped_column(String(300))
    notes: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    priority: Mapped[TaskPriority] = mapped_column(String(8), default=TaskPriority.NORMAL)
    kind: Mapped[TaskKind] = mapped_column(String(16), default=TaskKind.MANUAL)
    status: Mapped[TaskStatus] = mapped_column(String(16), default=TaskStatus.OPEN)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assignee_name: Mapped[str | None] = name_of(User.full_name, assignee_id)
    related_type: Mapped[TaskRelatedType | None] = mapped_column(String(32))
    related_id: Mapped[int | None]
    # NULL for tasks the system opened.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = name_of(User.full_name, created_by_id)
    closed_at: Mapped[datetime | None]


class Document(Versioned, Timestamped, Base):
    """A file attached to a customer, or to one of its contracts; the bytes live in the document store under their
    sha256."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_customer_id_id", "customer_id", "id"),
        Index("ix_documents_interaction_id_id", "interaction_id", "id"),
        Index("ix_documents_contract_id_id", "contract_id", "id"),
    )

    id: Mapped[IntPK]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    # Set on a photo of a field visit: the interaction it shows.
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    # Set on a contract's document: read and changed within the contract's data scope, not the customer's.
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    customer_name: Mapped[str | None] = name_of(Customer.name, customer_id)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str | None] = mapped_column(String(500))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_by_name: Mapped[str | None] = name_of(User.full_name, uploaded_by_id)
