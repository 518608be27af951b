"""Approval flows an admin defines per subject type, and the requests that walk a subject through them."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_api.approvals.policy import ApprovalStatus, ApproverKind, ConditionField, ConditionOperator, Decision
from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.rules import one_of, status_check
from crm_api.core.types import ExactDecimal
from crm_api.models.identity import User

# A step names a role (team_role, role) or a user (user), never both.
_APPROVER_NAMED = (
    f"(approver_kind = '{ApproverKind.USER}' AND approver_user_id IS NOT NULL AND approver_role IS NULL)"
    f" OR (approver_kind <> '{ApproverKind.USER}' AND approver_role IS NOT NULL AND approver_user_id IS NULL)"
)


def _approver_checks() -> tuple[CheckConstraint, CheckConstraint]:
    return (
        CheckConstraint(one_of("approver_kind", ApproverKind), name="approver_kind_known"),
        CheckConstraint(_APPROVER_NAMED, name="approver_named"),
    )


class ApprovalFlow(Versioned, Timestamped, Base):
    __tablename__ = "approval_flows"

    id: Mapped[IntPK]
    subject_type: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    steps: Mapped[list["ApprovalFlowStep"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ApprovalFlowStep.position"
    )


class ApprovalFlowStep(Base):
    __tablename__ = "approval_flow_steps"
    __table_args__ = (
        *_approver_checks(),
        CheckConstraint(
            "(condition_field IS NULL AND condition_operator IS NULL AND condition_value IS NULL)"
            " OR (condition_field IS NOT NULL AND condition_operator IS NOT NULL AND condition_value IS NOT NULL)",
            name="condition_whole",
        ),
        CheckConstraint(one_of("condition_field", ConditionField), name="condition_field_known"),
        CheckConstraint(one_of("condition_operator", ConditionOperator), name="condition_operator_known"),
        Index("ix_approval_flow_steps_flow_id_position", "flow_id", "position", unique=True),
    )

    id: Mapped[IntPK]
    flow_id: Mapped[int] = mapped_column(ForeignKey("approval_flows.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    approver_kind: Mapped[str] = mapped_column(String(20))
    approver_role: Mapped[str | None] = mapped_column(String(50))
    approver_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    condition_field: Mapped[str | None] = mapped_column(String(20))
    condition_operator: Mapped[str | None] = mapped_column(String(2))
    condition_value: Mapped[Decimal | None]


class ApprovalRequest(Versioned, Timestamped, Base):
    __tablename__ = "approval_requests"
    __table_args__ = (
        status_check(ApprovalStatus),
        Index("ix_approval_requests_subject", "subject_type", "subject_id", "id"),
        Index("ix_approval_requests_requester_id_id", "requester_id", "id"),
        Index("ix_approval_requests_status_id", "status", "id"),
        # One request under way per subject.
        Index(
            "uq_approval_requests_pending_subject",
            "subject_type",
            "subject_id",
            unique=True,
            sqlite_where=text(f"status = '{ApprovalStatus.PENDING}'"),
            postgresql_where=text(f"status = '{ApprovalStatus.PENDING}'"),
        ),
    )

    id: Mapped[IntPK]
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(300))
    amount: Mapped[Decimal | None]
    max_discount: Mapped[Decimal | None] = mapped_column(ExactDecimal(5, 2))
    link: Mapped[str] = mapped_column(String(300))
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requester_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    status: Mapped[str] = mapped_column(String(20))
    current_step: Mapped[int | None]
    decided_at: Mapped[datetime | None]

    requester: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    steps: Mapped[list["ApprovalRequestStep"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ApprovalRequestStep.position"
    )

    @property
    def current(self) -> "ApprovalRequestStep | None":
        return next((step for step in self.steps if step.position == self.current_step), None)


class ApprovalRequestStep(Base):
    __tablename__ = "approval_request_steps"
    __table_args__ = (
        *_approver_checks(),
        CheckConstraint(one_of("decision", Decision), name="decision_known"),
        Index("ix_approval_request_steps_request_id_position", "request_id", "position", unique=True),
        Index("ix_approval_request_steps_approver_user_id", "approver_user_id"),
    )

    id: Mapped[IntPK]
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    approver_kind: Mapped[str] = mapped_column(String(20))
    approver_role: Mapped[str | None] = mapped_column(String(50))
    approver_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str | None] = mapped_column(String(20))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    comment: Mapped[str | None] = mapped_column(Text)

    decided_by: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[decided_by_id])

    @property
    def decided_by_name(self) -> str | None:
        return self.decided_by.full_name if self.decided_by is not None else None
