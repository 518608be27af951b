from typing import Annotated

from fastapi import Depends, Query, status

from crm_api.core.auth import Authenticated, require
from crm_api.core.db import SessionDep
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.custom_fields.schemas import FILTERS_DESCRIPTION, CustomFieldFilters
from crm_api.customers import service as customers
from crm_api.opportunities import service
from crm_api.opportunities.policy import OpportunityStatus
from crm_api.opportunities.schemas import (
    AssignBody,
    LoseBody,
    OpportunityCreate,
    OpportunityRead,
    OpportunityUpdate,
    PlanItemCreate,
    PlanItemRead,
    PlanItemUpdate,
    ReminderRead,
    StageBody,
    StageChangeRead,
    WinBody,
    WinResult,
)

OpportunitiesAssign = Annotated[Principal, Depends(require("opportunities:assign"))]

router = DomainRouter(tags=["opportunities"])

OpportunitiesRead = Annotated[Principal, Depends(require("opportunities:read"))]
OpportunitiesCreate = Annotated[Principal, Depends(require("opportunities:create"))]
OpportunitiesWork = Annotated[Principal, Depends(require("opportunities:work"))]


OpportunityPage = Annotated[
    PageParams, listing("OpportunitySort", "code", "customer_name", "success_probability", "created_at", "updated_at")
]


@router.get(
    "/opportunities",
    response_model=Page[OpportunityRead],
    summary="List opportunities in the caller's scope",
    description=FILTERS_DESCRIPTION,
)
async def list_opportunities(
    principal: OpportunitiesRead,
    session: SessionDep,
    page: OpportunityPage,
    custom: CustomFieldFilters,
    status_: Annotated[OpportunityStatus | None, Query(alias="status")] = None,
    assignee_id: Id | None = None,
    created_by: Id | None = None,
    stage: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Customer name, summary or code contains")] = None,
) -> Page[OpportunityRead]:
    return await service.list_opportunities(
        session,
        principal,
        page,
        status=status_,
        assignee_id=assignee_id,
        created_by=created_by,
        stage=stage,
        q=q,
        custom=custom,
    )


@router.post(
    "/opportunities",
    response_model=OpportunityRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record a sales opportunity (status unassigned)",
)
@raises("dictionary.unknown_value", "opportunity.no_creator", "opportunity.no_stages")
async def create_opportunity(body: OpportunityCreate, principal: OpportunitiesCreate, session: SessionDep) -> OpportunityRead:
    return service.to_read(await service.create(session, principal, body), principal)


@router.get(
    "/opportunities/{opportunity_id}",
    response_model=OpportunityRead,
    summary="Get an opportunity with what the caller may do",
)
async def get_opportunity(opportunity_id: Id, principal: OpportunitiesRead, session: SessionDep, etag: ETag) -> OpportunityRead:
    opportunity = await service.get(session, principal, opportunity_id)
    return etag(service.to_read(opportunity, principal))


@router.patch(
    "/opportunities/{opportunity_id}",
    response_model=OpportunityRead,
    summary="Edit an unassigned opportunity",
)
@raises("dictionary.unknown_value", "opportunity.closed", "opportunity.not_unassigned")
async def update_opportunity(
    opportunity_id: Id, body: OpportunityUpdate, principal: OpportunitiesCreate, session: SessionDep, if_match: IfMatch = None
) -> OpportunityRead:
    opportunity = await service.update(session, principal, opportunity_id, body, if_match=if_match)
    return service.to_read(opportunity, principal)


@router.delete(
    "/opportunities/{opportunity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an unassigned opportunity (its creator only)",
)
@raises("opportunity.closed", "opportunity.not_creator", "opportunity.not_unassigned")
async def delete_opportunity(opportunity_id: Id, principal: OpportunitiesCreate, session: SessionDep) -> None:
    await service.delete(session, principal, opportunity_id)


@router.post(
    "/opportunities/{opportunity_id}/assign",
    response_model=OpportunityRead,
    summary="Assign an unassigned opportunity to an active account manager (supervisors)",
)
@raises("opportunity.changed", "opportunity.closed", "opportunity.invalid_assignee", "opportunity.not_unassigned")
async def assign_opportunity(
    opportunity_id: Id, body: AssignBody, principal: OpportunitiesAssign, session: SessionDep
) -> OpportunityRead:
    return service.to_read(await service.assign(session, principal, opportunity_id, body), principal)


@router.post(
    "/opportunities/{opportunity_id}/stage",
    response_model=OpportunityRead,
    summary="Move an assigned opportunity to another pipeline stage (the assignee)",
)
@raises(
    "dictionary.unknown_value",
    "opportunity.changed",
    "opportunity.closed",
    "opportunity.not_assigned",
    "opportunity.not_assignee",
    "opportunity.same_stage",
)
async def change_stage(opportunity_id: Id, body: StageBody, principal: OpportunitiesWork, session: SessionDep) -> OpportunityRead:
    return service.to_read(await service.change_stage(session, principal, opportunity_id, body.stage), principal)


@router.get(
    "/opportunities/{opportunity_id}/stages",
    response_model=list[StageChangeRead],
    summary="Stage history of an opportunity, oldest first",
)
async def stage_history(opportunity_id: Id, principal: OpportunitiesRead, session: SessionDep) -> list[StageChangeRead]:
    changes = await service.stage_history(session, principal, opportunity_id)
    return [StageChangeRead.model_validate(c) for c in changes]


@router.post(
    "/opportunities/{opportunity_id}/win",
    response_model=WinResult,
    summary="Win an assigned opportunity (the assignee): it becomes a customer in the same transaction",
    description="A company that is already a customer (same normalized name) is 409 `customer.duplicate` naming it; "
    "send its id as `customer_id` to attach the won opportunity to it instead.",
)
@raises(
    "client_id.reused",
    "customer.duplicate",
    "customer.not_active",
    "customer.not_found",
    "customer.owner_required",
    "dictionary.unknown_value",
    "opportunity.changed",
    "opportunity.closed",
    "opportunity.contact_phone_required",
    "opportunity.not_assigned",
    "opportunity.not_assignee",
    "phone.invalid",
    "privacy.erased",
)
async def win_opportunity(
    opportunity_id: Id, principal: OpportunitiesWork, session: SessionDep, body: WinBody | None = None
) -> WinResult:
    opportunity, customer = await service.win(session, principal, opportunity_id, body or WinBody())
    return WinResult(opportunity=service.to_read(opportunity, principal), customer=customers.to_read(customer))


@router.post(
    "/opportunities/{opportunity_id}/lose",
    response_model=OpportunityRead,
    summary="Close an assigned opportunity as lost (the assignee)",
)
@raises("opportunity.changed", "opportunity.closed", "opportunity.not_assigned", "opportunity.not_assignee")
async def lose_opportunity(
    opportunity_id: Id, principal: OpportunitiesWork, session: SessionDep, body: LoseBody | None = None
) -> OpportunityRead:
    reason = body.reason if body is not None else None
    return service.to_read(await service.lose(session, principal, opportunity_id, reason), principal)


PlanItemPage = Annotated[PageParams, listing("PlanItemSort", "planned_on", "created_at", "updated_at")]


@router.get(
    "/opportunities/{opportunity_id}/plan-items",
    response_model=Page[PlanItemRead],
    summary="The development plan of an opportunity, by date",
)
async def list_plan_items(
    opportunity_id: Id, principal: OpportunitiesRead, session: SessionDep, page: PlanItemPage
) -> Page[PlanItemRead]:
    return await service.list_plan_items(session, principal, opportunity_id, page)


@router.post(
    "/opportunities/{opportunity_id}/plan-items",
    response_model=PlanItemRead,
    status_code=status.HTTP_201_CREATED,
    summary="Add a plan item to an assigned opportunity (the assignee)",
)
@raises("opportunity.closed", "opportunity.not_assigned", "opportunity.not_assignee")
async def add_plan_item(
    opportunity_id: Id, body: PlanItemCreate, principal: OpportunitiesWork, session: SessionDep
) -> PlanItemRead:
    return PlanItemRead.model_validate(await service.add_plan_item(session, principal, opportunity_id, body))


@router.get(
    "/opportunities/{opportunity_id}/plan-items/{item_id}",
    response_model=PlanItemRead,
    summary="Get a plan item",
)
@raises("plan_item.not_found")
async def get_plan_item(opportunity_id: Id, item_id: Id, principal: OpportunitiesRead, session: SessionDep) -> PlanItemRead:
    return PlanItemRead.model_validate(await service.get_plan_item(session, principal, opportunity_id, item_id))


@router.patch(
    "/opportunities/{opportunity_id}/plan-items/{item_id}",
    response_model=PlanItemRead,
    summary="Change a plan item's content or record its result (the date is fixed)",
)
@raises("opportunity.closed", "opportunity.not_assigned", "opportunity.not_assignee", "plan_item.not_found")
async def update_plan_item(
    opportunity_id: Id, item_id: Id, body: PlanItemUpdate, principal: OpportunitiesWork, session: SessionDep
) -> PlanItemRead:
    return PlanItemRead.model_validate(await service.update_plan_item(session, principal, opportunity_id, item_id, body))


@router.delete(
    "/opportunities/{opportunity_id}/plan-items/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a plan item (the assignee)",
)
@raises("opportunity.closed", "opportunity.not_assigned", "opportunity.not_assignee", "plan_item.not_found")
async def delete_plan_item(opportunity_id: Id, item_id: Id, principal: OpportunitiesWork, session: SessionDep) -> None:
    await service.delete_plan_item(session, principal, opportunity_id, item_id)


ReminderPage = Annotated[PageParams, listing("ReminderSort", "created_at")]


@router.get(
    "/reminders",
    response_model=Page[ReminderRead],
    summary="The caller's reminders, newest first",
)
async def list_reminders(
    principal: Authenticated,
    session: SessionDep,
    page: ReminderPage,
    open_only: Annotated[bool, Query(alias="open", description="Only reminders not yet done")] = False,
) -> Page[ReminderRead]:
    return await service.list_reminders(session, principal, page, open_only=open_only)


@router.post(
    "/reminders/{reminder_id}/done",
    response_model=ReminderRead,
    summary="Mark one of the caller's reminders done",
)
async def mark_reminder_done(reminder_id: Id, principal: Authenticated, session: SessionDep) -> ReminderRead:
    return ReminderRead.model_validate(await service.mark_reminder_done(session, principal, reminder_id))
