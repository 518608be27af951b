from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, exists, select
from sqlalchemy.orm import aliased

from crm_api.approvals import policy
from crm_api.core.permissions import Principal
from crm_api.core.repository import Repository
from crm_api.models import Base
from crm_api.models.approval import ApprovalFlow, ApprovalRequest, ApprovalRequestStep
from crm_api.models.identity import Role, User, user_roles


class FlowRepository(Repository[ApprovalFlow]):
    model = ApprovalFlow

    async def of_subject(self, subject_type: str) -> ApprovalFlow | None:
        return await self.session.scalar(select(ApprovalFlow).where(ApprovalFlow.subject_type == subject_type))

    async def known_roles(self, codes: Collection[str]) -> set[str]:
        return set((await self.session.scalars(select(Role.code).where(Role.code.in_(codes)))).all())

    async def active_users(self, ids: Collection[int]) -> set[int]:
        return set((await self.session.scalars(select(User.id).where(User.id.in_(ids), User.active.is_(True)))).all())


class RequestRepository(Repository[ApprovalRequest]):
    model = ApprovalRequest
    visible = staticmethod(policy.visible)

    async def approvers(self, step: ApprovalRequestStep, requester_team_id: int | None) -> list[int]:
        """The active users who may decide the step, as `policy.is_approver` decides it."""
        if step.approver_kind == policy.ApproverKind.USER:
            return [step.approver_user_id] if step.approver_user_id is not None else []
        statement = (
            select(User.id)
            .join(user_roles, user_roles.c.user_id == User.id)
            .join(Role, Role.id == user_roles.c.role_id)
            .where(Role.code == step.approver_role, User.active.is_(True))
        )
        if step.approver_kind == policy.ApproverKind.TEAM_ROLE:
            statement = statement.where(User.team_id == requester_team_id)
        return list((await self.session.scalars(statement)).all())

    def filtered(
        self, statement: Select[ApprovalRequest], principal: Principal, *, pending_for_me: bool, requested_by_me: bool
    ) -> Select[ApprovalRequest]:
        if pending_for_me:
            statement = statement.where(policy.pending_for(principal))
        if requested_by_me:
            statement = statement.where(ApprovalRequest.requester_id == principal.user_id)
        return statement

    async def latest_summaries(
        self, subject_type: str, subject_ids: Collection[int]
    ) -> Sequence[Row[int, int, str, str | None, datetime, datetime | None]]:
        """Each subject's newest request with its current step's name, in one statement and without loading a
        request: a contract or quote shows it on every read."""
        if not subject_ids:
            return []
        arguments = {"subject_type": subject_type, "subject_ids": list(subject_ids)}
        return (await self.session.execute(_LATEST_SUMMARIES, arguments)).all()


# The columns `with_latest_summary` adds, by the ApprovalSummary field each holds.
SUMMARY_LABELS = {
    "id": "approval_id",
    "status": "approval_status",
    "current_step_name": "approval_step_name",
    "requested_at": "approval_requested_at",
    "decided_at": "approval_decided_at",
}
_latest = aliased(ApprovalRequest, name="latest_approval")
_latest_step = aliased(ApprovalRequestStep, name="latest_approval_step")


def with_latest_summary(statement: Select[Any], subject_type: str, subject: type[Base]) -> Select[Any]:
    """The statement with the latest request about each of its subjects (rows of the model `subject`), outer-joined
    as the `SUMMARY_LABELS` columns (all null: none): a subject read by id with its approval in the same statement."""
    subject_id: ColumnElement[int] = subject.id  # type: ignore[attr-defined]  # Base declares no id; a subject's model maps one
    newer = ApprovalRequest.__table__.alias("newer_approval")
    latest = and_(
        _latest.subject_type == subject_type,
        _latest.subject_id == subject_id,
        ~exists().where(
            newer.c.subject_type == _latest.subject_type, newer.c.subject_id == _latest.subject_id, newer.c.id > _latest.id
        ),
    )
    step = and_(_latest_step.request_id == _latest.id, _latest_step.position == _latest.current_step)
    columns = {
        "id": _latest.id,
        "status": _latest.status,
        "current_step_name": _latest_step.name,
        "requested_at": _latest.created_at,
        "decided_at": _latest.decided_at,
    }
    return (
        statement.outerjoin_from(subject, _latest, latest)
        .outerjoin(_latest_step, step)
        .add_columns(*(column.label(SUMMARY_LABELS[field]) for field, column in columns.items()))
    )


# Built once: a contract's or quote's every read runs it, and building it (its alias above all) cost more than the
# SQL did.
_newer = ApprovalRequest.__table__.alias("newer")
_LATEST_SUMMARIES = (
    select(
        ApprovalRequest.subject_id,
        ApprovalRequest.id,
        ApprovalRequest.status,
        ApprovalRequestStep.name.label("current_step_name"),
        ApprovalRequest.created_at.label("requested_at"),
        ApprovalRequest.decided_at,
    )
    .outerjoin(
        ApprovalRequestStep,
        and_(ApprovalRequestStep.request_id == ApprovalRequest.id, ApprovalRequestStep.position == ApprovalRequest.current_step),
    )
    .where(
        ApprovalRequest.subject_type == bindparam("subject_type"),
        ApprovalRequest.subject_id.in_(bindparam("subject_ids", expanding=True)),
        ~exists().where(
            _newer.c.subject_type == ApprovalRequest.subject_type,
            _newer.c.subject_id == ApprovalRequest.subject_id,
            _newer.c.id > ApprovalRequest.id,
        ),
    )
)
