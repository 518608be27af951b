from typing import Annotated, Literal

from fastapi import Depends, Path, Query, status

from crm_api.approvals import service
from crm_api.approvals.policy import ApprovalAction
from crm_api.approvals.schemas import ApprovalRead, DecisionBody, FlowPut, FlowRead
from crm_api.core.auth import require
from crm_api.core.db import SessionDep, SnapshotRoute
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id

# Reads load a record with its lines or steps and approval summaries: several statements, one snapshot.
router = DomainRouter(tags=["approvals"], route_class=SnapshotRoute)

ApprovalsRead = Annotated[Principal, Depends(require("approvals:read"))]
ApprovalsManage = Annotated[Principal, Depends(require("approvals:manage"))]
SubjectTypePath = Annotated[str, Path(pattern=r"^[a-z][a-z_]{0,49}$", examples=["quote"])]
Me = Literal["me"]


ApprovalPage = Annotated[PageParams, listing("ApprovalSort", "title", "created_at", "updated_at")]


@router.get(
    "/approval-flows",
    response_model=list[FlowRead],
    summary="Every approval flow, by subject type (admins)",
)
async def list_approval_flows(_: ApprovalsManage, session: SessionDep) -> list[FlowRead]:
    return await service.list_flows(session)


@router.get(
    "/approval-flows/{subject_type}",
    response_model=FlowRead,
    summary="The approval flow of a subject type (admins)",
)
@raises("approval_flow.not_found")
async def get_approval_flow(subject_type: SubjectTypePath, _: ApprovalsManage, session: SessionDep, etag: ETag) -> FlowRead:
    return etag(service.flow_read(await service.get_flow(session, subject_type)))


@router.put(
    "/approval-flows/{subject_type}",
    response_model=FlowRead,
    summary="Define or replace the approval flow of a subject type (admins)",
    description="Steps are decided in the order given. Requests already open keep the steps they opened with. "
    "A step with a `condition` applies only to subjects meeting it; a subject no step applies to is approved "
    "at once on submit.",
)
@raises("approval.unknown_approver", "approval.unknown_role", "approval.unknown_subject")
async def put_approval_flow(
    subject_type: SubjectTypePath, body: FlowPut, principal: ApprovalsManage, session: SessionDep, if_match: IfMatch = None
) -> FlowRead:
    return service.flow_read(await service.put_flow(session, principal, subject_type, body, if_match=if_match))


@router.delete(
    "/approval-flows/{subject_type}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove the approval flow of a subject type (admins); its open requests go on",
)
@raises("approval_flow.not_found")
async def delete_approval_flow(subject_type: SubjectTypePath, principal: ApprovalsManage, session: SessionDep) -> None:
    await service.delete_flow(session, principal, subject_type)


@router.get(
    "/approvals",
    response_model=Page[ApprovalRead],
    summary="Approval requests the caller made or decides, newest first",
)
async def list_approvals(
    principal: ApprovalsRead,
    session: SessionDep,
    page: ApprovalPage,
    pending_for: Annotated[Me | None, Query(description="`me`: pending requests whose current step is mine to decide")] = None,
    requested_by: Annotated[Me | None, Query(description="`me`: the requests I made")] = None,
) -> Page[ApprovalRead]:
    return await service.list_requests(
        session, principal, page, pending_for_me=pending_for == "me", requested_by_me=requested_by == "me"
    )


@router.get(
    "/approvals/{approval_id}",
    response_model=ApprovalRead,
    summary="An approval request with its steps' decisions and what the caller may do",
)
async def get_approval(approval_id: Id, principal: ApprovalsRead, session: SessionDep, etag: ETag) -> ApprovalRead:
    return etag(service.to_read(await service.get(session, principal, approval_id), principal))


@router.post(
    "/approvals/{approval_id}/approve",
    response_model=ApprovalRead,
    summary="Approve the current step (its approvers): the request moves on, or is approved after the last step",
)
@raises(
    "approval.changed",
    "approval.comment_required",
    "approval.not_approver",
    "approval.not_pending",
    "approval.not_requester",
    "approval.own_request",
    "approval.unknown_subject",
)
async def approve_approval(
    approval_id: Id, principal: ApprovalsRead, session: SessionDep, body: DecisionBody | None = None
) -> ApprovalRead:
    comment = body.comment if body is not None else None
    request = await service.decide(session, principal, approval_id, ApprovalAction.APPROVE, comment)
    return service.to_read(request, principal)


@router.post(
    "/approvals/{approval_id}/reject",
    response_model=ApprovalRead,
    summary="Reject the request at the current step (its approvers), with a comment: the subject goes back to draft",
)
@raises(
    "approval.changed",
    "approval.comment_required",
    "approval.not_approver",
    "approval.not_pending",
    "approval.not_requester",
    "approval.own_request",
    "approval.unknown_subject",
)
async def reject_approval(approval_id: Id, body: DecisionBody, principal: ApprovalsRead, session: SessionDep) -> ApprovalRead:
    request = await service.decide(session, principal, approval_id, ApprovalAction.REJECT, body.comment)
    return service.to_read(request, principal)


@router.post(
    "/approvals/{approval_id}/withdraw",
    response_model=ApprovalRead,
    summary="Withdraw a pending request (its requester): the subject goes back to draft",
)
@raises(
    "approval.changed",
    "approval.comment_required",
    "approval.not_approver",
    "approval.not_pending",
    "approval.not_requester",
    "approval.own_request",
    "approval.unknown_subject",
)
async def withdraw_approval(approval_id: Id, principal: ApprovalsRead, session: SessionDep) -> ApprovalRead:
    return service.to_read(await service.decide(session, principal, approval_id, ApprovalAction.WITHDRAW), principal)
