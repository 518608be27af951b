"""Approval flows and requests (SPEC §3.14): a subject's request walks the flow's applicable steps in order."""

from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.approvals import repository
from crm_api.approvals.policy import (
    READ,
    RULES,
    ApprovalAction,
    ApprovalStatus,
    ConditionField,
    ConditionOperator,
    Decision,
    condition_holds,
)
from crm_api.approvals.repository import FlowRepository, RequestRepository
from crm_api.approvals.schemas import (
    ApprovalRead,
    ApprovalSummary,
    FlowPut,
    FlowRead,
    FlowStepRead,
    RequestStepRead,
    StepConditionRead,
)
from crm_api.approvals.subjects import SubjectFacts, subject_of
from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.errors import Conflict, InvalidInput, NotFound
from crm_api.core.http import check_if_match
from crm_api.core.outbox import EventType
from crm_api.core.pagination import Page, PageParams
from crm_api.core.permissions import Principal
from crm_api.core.transitions import transition
from crm_api.core.types import to_money
from crm_api.models import Base
from crm_api.models.approval import ApprovalFlow, ApprovalFlowStep, ApprovalRequest, ApprovalRequestStep
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import Link, NotificationType

ENTITY = "approval"
REQUESTED = EventType("approval.requested", "A subject was submitted for approval; `steps` lists who decides", ApprovalRead)
DECIDED = EventType(
    "approval.decided",
    "A decision on an approval request: a step approved (the request moves on or is `approved`), the request "
    "`rejected`, or `withdrawn` by its requester",
    ApprovalRead,
)


# Flows


def flow_read(flow: ApprovalFlow) -> FlowRead:
    steps = [
        FlowStepRead(
            position=step.position,
            name=step.name,
            approver_kind=step.approver_kind,
            approver_role=step.approver_role,
            approver_user_id=step.approver_user_id,
            condition=_condition(step),
        )
        for step in flow.steps
    ]
    return FlowRead(subject_type=flow.subject_type, name=flow.name, steps=steps, version=flow.version, updated_at=flow.updated_at)


def _condition(step: ApprovalFlowStep) -> StepConditionRead | None:
    if step.condition_field is None or step.condition_operator is None or step.condition_value is None:
        return None
    return StepConditionRead(field=step.condition_field, operator=step.condition_operator, value=step.condition_value)


async def list_flows(session: AsyncSession) -> list[FlowRead]:
    repo = FlowRepository(session)
    flows = (await session.scalars(repo.select().order_by(ApprovalFlow.subject_type))).all()
    return [flow_read(flow) for flow in flows]


async def get_flow(session: AsyncSession, subject_type: str) -> ApprovalFlow:
    flow = await FlowRepository(session).of_subject(subject_type)
    if flow is None:
        raise NotFound("Approval flow", subject_type)
    return flow


async def _check_approvers(session: AsyncSession, data: FlowPut) -> None:
    repo = FlowRepository(session)
    roles = {step.approver_role for step in data.steps if step.approver_role is not None}
    users = {step.approver_user_id for step in data.steps if step.approver_user_id is not None}
    known_roles, active_users = await repo.known_roles(roles), await repo.active_users(users)
    for index, step in enumerate(data.steps):
        if step.approver_role is not None and step.approver_role not in known_roles:
            raise InvalidInput(f"steps.{index}.approver_role", f"No role {step.approver_role}", code="approval.unknown_role")
        if step.approver_user_id is not None and step.approver_user_id not in active_users:
            raise InvalidInput(
                f"steps.{index}.approver_user_id", "The approver must be an active user", code="approval.unknown_approver"
            )


async def put_flow(
    session: AsyncSession, actor: Principal, subject_type: str, data: FlowPut, *, if_match: str | None = None
) -> ApprovalFlow:
    """Create or replace the flow of a subject type; requests already open keep the steps they opened with."""
    subject_of(subject_type)
    await _check_approvers(session, data)
    flow = await FlowRepository(session).of_subject(subject_type)
    before = None
    if flow is None:
        flow = ApprovalFlow(subject_type=subject_type, name=data.name, steps=[])
        session.add(flow)
    else:
        check_if_match(if_match, flow)
        before = flow_read(flow).model_dump(mode="json")
        flow.name = data.name
        flow.steps.clear()
        await session.flush()  # the old positions go before the new ones take them
    for position, step in enumerate(data.steps, start=1):
        condition = step.condition
        flow.steps.append(
            ApprovalFlowStep(
                position=position,
                name=step.name,
                approver_kind=step.approver_kind,
                approver_role=step.approver_role,
                approver_user_id=step.approver_user_id,
                condition_field=condition.field if condition else None,
                condition_operator=condition.operator if condition else None,
                condition_value=to_money(condition.value) if condition else None,
            )
        )
    flow.updated_at = clock.now()  # a change of steps alone is a change of the flow: bumps its version
    await audit.record_change(
        session,
        actor=actor,
        entity_type="approval_flow",
        entity=flow,
        action="create" if before is None else "update",
        before=before,
        view=lambda f: flow_read(f).model_dump(mode="json"),
    )
    return flow


async def delete_flow(session: AsyncSession, actor: Principal, subject_type: str) -> None:
    flow = await get_flow(session, subject_type)
    await audit.delete_recorded(
        session, actor=actor, entity_type="approval_flow", entity=flow, view=lambda f: flow_read(f).model_dump(mode="json")
    )


# Requests


def to_read(request: ApprovalRequest, actor: Principal | None) -> ApprovalRead:
    """`actor` None: the representation an event carries, with no caller's allowed actions."""
    computed = {"steps", "allowed_actions", "requester_name"}
    fields = {name: getattr(request, name) for name in ApprovalRead.model_fields if name not in computed}
    return ApprovalRead(
        **fields,
        requester_name=request.requester.full_name,
        steps=[RequestStepRead.model_validate(step) for step in request.steps],
        allowed_actions=RULES.allowed_actions(request, actor) if actor is not None else [],
    )


def _applies(step: ApprovalFlowStep, facts: SubjectFacts) -> bool:
    if step.condition_field is None or step.condition_operator is None or step.condition_value is None:
        return True
    value: Decimal | None = facts.amount if step.condition_field == ConditionField.AMOUNT else facts.max_discount
    return condition_holds(ConditionOperator(step.condition_operator), step.condition_value, value)


async def open_request(session: AsyncSession, actor: Principal, *, subject_type: str, subject_id: int) -> ApprovalRequest:
    """A request at the flow's first applicable step; `approved` at once when no step applies to this subject.

    The subject's service calls this on submit and moves the subject to match the request's status.
    """
    if actor.user_id is None:
        raise InvalidInput("requester", "An approval is requested by a signed-in user", code="approval.no_requester")
    flow = await FlowRepository(session).of_subject(subject_type)
    if flow is None:
        raise Conflict(f"No approval flow is defined for {subject_type}; an admin defines one", code="approval.no_flow")
    facts = await subject_of(subject_type).facts(session, subject_id)
    applicable = [step for step in flow.steps if _applies(step, facts)]
    now = clock.now()
    request = ApprovalRequest(
        subject_type=subject_type,
        subject_id=subject_id,
        title=facts.title,
        amount=facts.amount,
        max_discount=facts.max_discount,
        link=facts.link,
        requester_id=actor.user_id,
        requester_team_id=actor.team_id,
        status=ApprovalStatus.PENDING if applicable else ApprovalStatus.APPROVED,
        current_step=1 if applicable else None,
        decided_at=None if applicable else now,
        steps=[
            ApprovalRequestStep(
                position=position,
                name=step.name,
                approver_kind=step.approver_kind,
                approver_role=step.approver_role,
                approver_user_id=step.approver_user_id,
            )
            for position, step in enumerate(applicable, start=1)
        ],
    )
    session.add(request)
    await audit.record_change(session, actor=actor, entity_type=ENTITY, entity=request, action="request", before=None)
    await session.refresh(request, ["requester"])
    await REQUESTED.publish(session, entity_type=ENTITY, entity_id=request.id, payload=to_read(request, None))
    if request.status == ApprovalStatus.PENDING:
        await _notify(session, request)
    return request


async def get(session: AsyncSession, actor: Principal, request_id: int) -> ApprovalRequest:
    return await RequestRepository(session).get_scoped_or_404(request_id, actor, READ, "Approval")


async def list_requests(
    session: AsyncSession, actor: Principal, params: PageParams, *, pending_for_me: bool, requested_by_me: bool
) -> Page[ApprovalRead]:
    repo = RequestRepository(session)
    statement = repo.filtered(repo.scoped(actor, READ), actor, pending_for_me=pending_for_me, requested_by_me=requested_by_me)
    return (await repo.page(statement, params)).to_page(lambda r: to_read(r, actor))


def with_latest_summary(statement: Select[Any], subject_type: str, subject: type[Base]) -> Select[Any]:
    """The statement with its subjects' latest requests as columns of its rows, for `summary_of_record`."""
    return repository.with_latest_summary(statement, subject_type, subject)


def summary_of_record(record: Mapping[str, Any]) -> ApprovalSummary | None:
    """The latest request a row of `with_latest_summary` (read as a record) carries, None when the subject has none."""
    values = {field: record[label] for field, label in repository.SUMMARY_LABELS.items()}
    return ApprovalSummary.model_validate(values) if values["id"] is not None else None


async def summaries(session: AsyncSession, subject_type: str, subject_ids: Collection[int]) -> dict[int, ApprovalSummary]:
    """subject id -> its latest request, for the subject's own representation."""
    rows = await RequestRepository(session).latest_summaries(subject_type, subject_ids)
    return {
        row.subject_id: ApprovalSummary(
            id=row.id,
            status=row.status,
            current_step_name=row.current_step_name,
            requested_at=row.requested_at,
            decided_at=row.decided_at,
        )
        for row in rows
    }


async def decide(
    session: AsyncSession, actor: Principal, request_id: int, action: ApprovalAction, comment: str | None = None
) -> ApprovalRequest:
    """Approve or reject the current step, or withdraw the request: the one function every decision goes through.

    Of approvers deciding one step at once exactly one matches the request's version; the others get 409.
    """
    request = await get(session, actor, request_id)
    RULES.enforce(action, request, actor)
    if action == ApprovalAction.REJECT and not comment:
        raise InvalidInput("comment", "A rejection says why: send a comment", code="approval.comment_required")
    step = request.current
    now = clock.now()
    changes: dict[str, object]
    if action == ApprovalAction.APPROVE:
        last = step is None or step.position == len(request.steps)
        changes = (
            {"status": ApprovalStatus.APPROVED, "current_step": None, "decided_at": now}
            if last
            else {"current_step": request.current_step + 1 if request.current_step is not None else None}
        )
    elif action == ApprovalAction.REJECT:
        changes = {"status": ApprovalStatus.REJECTED, "current_step": None, "decided_at": now}
    else:
        changes = {"status": ApprovalStatus.WITHDRAWN, "current_step": None, "decided_at": now}
    request = await transition(session, request, actor=actor, entity_type=ENTITY, action=action, changes=changes)
    await session.refresh(request, ["requester"])  # the UPDATE … RETURNING reloads columns, not the joined requester
    if action != ApprovalAction.WITHDRAW and step is not None:
        step.decision = Decision.APPROVED if action == ApprovalAction.APPROVE else Decision.REJECTED
        step.decided_by_id = actor.user_id
        step.decided_at = now
        step.comment = comment
        await session.flush()
        await session.refresh(step, ["decided_by"])
    if request.status != ApprovalStatus.PENDING:
        await subject_of(request.subject_type).settled(session, request.subject_id, ApprovalStatus(request.status), actor)
    await _announce(session, request)
    return request


async def _announce(session: AsyncSession, request: ApprovalRequest) -> None:
    """Tell the world about a decision: the outbox event (webhooks), and the people concerned (§3.15)."""
    await DECIDED.publish(session, entity_type=ENTITY, entity_id=request.id, payload=to_read(request, None))
    await _notify(session, request)


async def _notify(session: AsyncSession, request: ApprovalRequest) -> None:
    """While pending, the current step's approvers (never the requester, who may not decide it); once settled, the
    requester. In the decision's transaction: rolled back with it."""
    link = Link(ENTITY, request.id)
    step = request.current
    if request.status == ApprovalStatus.PENDING and step is not None:
        approvers = await RequestRepository(session).approvers(step, request.requester_team_id)
        title = f"待审批：{request.title}"
        body = f"{request.requester.full_name} 提交的审批已到「{step.name}」，等待您的决定"
        recipients = [user_id for user_id in approvers if user_id != request.requester_id]
        await notifications.notify(session, recipients, NotificationType.APPROVAL_PENDING, title, body, link)
    elif request.status != ApprovalStatus.PENDING:
        outcome = {ApprovalStatus.APPROVED: "已通过", ApprovalStatus.REJECTED: "已驳回", ApprovalStatus.WITHDRAWN: "已撤回"}
        title = f"审批{outcome.get(ApprovalStatus(request.status), request.status)}：{request.title}"
        comment = next((s.comment for s in reversed(request.steps) if s.comment), None)
        body = title if comment is None else f"{title}。意见：{comment}"
        await notifications.notify(session, [request.requester_id], NotificationType.APPROVAL_DECIDED, title, body, link)
