from typing import Annotated

from fastapi import Depends, Query, status

from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.custom_fields.schemas import FILTERS_DESCRIPTION, CustomFieldFilters
from crm_api.leads import assignment, scoring, service
from crm_api.leads.policy import LeadStatus
from crm_api.leads.schemas import (
    ActivityCreate,
    ActivityRead,
    AssignmentRuleCreate,
    AssignmentRuleRead,
    AssignmentRuleUpdate,
    ConvertBody,
    ConvertResult,
    DisqualifyBody,
    LeadCreate,
    LeadRead,
    LeadUpdate,
    ScoringRuleRead,
    ScoringRulesPut,
)
from crm_api.opportunities import service as opportunities

router = DomainRouter(tags=["leads"])

LeadsRead = Annotated[Principal, Depends(require("leads:read"))]
LeadsWrite = Annotated[Principal, Depends(require("leads:write"))]
SettingsWrite = Annotated[Principal, Depends(require("settings:write"))]


LeadPage = Annotated[PageParams, listing("LeadSort", "company", "score", "created_at", "updated_at")]


@router.get(
    "/leads",
    response_model=Page[LeadRead],
    summary="List leads in the caller's scope",
    description=FILTERS_DESCRIPTION,
)
async def list_leads(
    principal: LeadsRead,
    session: SessionDep,
    page: LeadPage,
    custom: CustomFieldFilters,
    status_: Annotated[LeadStatus | None, Query(alias="status")] = None,
    owner_id: Id | None = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    industry: Annotated[str | None, Query(max_length=100)] = None,
    min_score: Annotated[int | None, Query(ge=0, le=100)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Company, contact name or email contains")] = None,
) -> Page[LeadRead]:
    return await service.list_leads(
        session,
        principal,
        page,
        status=status_,
        owner_id=owner_id,
        source=source,
        region=region,
        industry=industry,
        min_score=min_score,
        q=q,
        custom=custom,
    )


@router.post(
    "/leads",
    response_model=LeadRead,
    status_code=status.HTTP_201_CREATED,
    summary="Capture a lead: de-duplicated, scored and assigned by the rules",
)
@raises("dictionary.unknown_value", "lead.duplicate", "lead.no_owner", "lead.registered_elsewhere", "phone.invalid")
async def create_lead(body: LeadCreate, principal: LeadsWrite, session: SessionDep) -> LeadRead:
    return service.to_read(await service.create(session, principal, body), principal)


@router.get("/leads/{lead_id}", response_model=LeadRead, summary="Get a lead")
async def get_lead(lead_id: Id, principal: LeadsRead, session: SessionDep, etag: ETag) -> LeadRead:
    return etag(service.to_read(await service.get(session, principal, lead_id), principal))


@router.patch(
    "/leads/{lead_id}",
    response_model=LeadRead,
    summary="Change a lead (not once converted); the score is recomputed",
)
@raises(
    "dictionary.unknown_value",
    "lead.converted",
    "lead.duplicate",
    "lead.invalid_status",
    "lead.registered_elsewhere",
    "phone.invalid",
)
async def update_lead(
    lead_id: Id, body: LeadUpdate, principal: LeadsWrite, session: SessionDep, if_match: IfMatch = None
) -> LeadRead:
    return service.to_read(await service.update(session, principal, lead_id, body, if_match=if_match), principal)


@router.delete(
    "/leads/{lead_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a lead that is not converted",
)
@raises("lead.converted", "lead.invalid_status")
async def delete_lead(lead_id: Id, principal: LeadsWrite, session: SessionDep) -> None:
    await service.delete(session, principal, lead_id)


ActivityPage = Annotated[PageParams, listing("ActivitySort", "occurred_at")]


@router.get(
    "/leads/{lead_id}/activities",
    response_model=Page[ActivityRead],
    summary="The nurture trail of a lead, newest first",
)
async def list_activities(lead_id: Id, principal: LeadsRead, session: SessionDep, page: ActivityPage) -> Page[ActivityRead]:
    return await service.list_activities(session, principal, lead_id, page)


@router.post(
    "/leads/{lead_id}/activities",
    response_model=ActivityRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record an activity on a lead (a new lead becomes working)",
)
@raises("lead.changed", "lead.converted", "lead.invalid_status")
async def add_activity(lead_id: Id, body: ActivityCreate, principal: LeadsWrite, session: SessionDep) -> ActivityRead:
    return ActivityRead.model_validate(await service.add_activity(session, principal, lead_id, body))


@router.post("/leads/{lead_id}/qualify", response_model=LeadRead, summary="Qualify a new or working lead")
@raises("lead.changed", "lead.converted", "lead.invalid_status")
async def qualify_lead(lead_id: Id, principal: LeadsWrite, session: SessionDep) -> LeadRead:
    return service.to_read(await service.qualify(session, principal, lead_id), principal)


@router.post(
    "/leads/{lead_id}/disqualify",
    response_model=LeadRead,
    summary="Disqualify an open lead, with a reason",
)
@raises("lead.changed", "lead.converted", "lead.invalid_status")
async def disqualify_lead(lead_id: Id, body: DisqualifyBody, principal: LeadsWrite, session: SessionDep) -> LeadRead:
    return service.to_read(await service.disqualify(session, principal, lead_id, body.reason), principal)


@router.post(
    "/leads/{lead_id}/convert",
    response_model=ConvertResult,
    summary="Convert an open lead into an unassigned opportunity (owner, marketer, supervisor or admin)",
)
@raises(
    "dictionary.unknown_value",
    "lead.cannot_convert",
    "lead.changed",
    "lead.converted",
    "lead.invalid_status",
    "opportunity.no_creator",
    "opportunity.no_stages",
)
async def convert_lead(lead_id: Id, principal: LeadsWrite, session: SessionDep, body: ConvertBody | None = None) -> ConvertResult:
    lead, opportunity = await service.convert(session, principal, lead_id, body or ConvertBody())
    return ConvertResult(lead=service.to_read(lead, principal), opportunity=opportunities.to_read(opportunity, principal))


@router.get(
    "/lead-scoring-rules",
    response_model=list[ScoringRuleRead],
    summary="The lead scoring rules",
)
async def list_scoring_rules(_: LeadsRead, session: SessionDep) -> list[ScoringRuleRead]:
    return [ScoringRuleRead.model_validate(r) for r in await scoring.list_rules(session)]


@router.put(
    "/lead-scoring-rules",
    response_model=list[ScoringRuleRead],
    summary="Replace the lead scoring rules (admins); open leads are rescored",
)
@raises("dictionary.unknown_value")
async def replace_scoring_rules(body: ScoringRulesPut, principal: SettingsWrite, session: SessionDep) -> list[ScoringRuleRead]:
    return [ScoringRuleRead.model_validate(r) for r in await scoring.replace_rules(session, principal, body)]


AssignmentRulePage = Annotated[PageParams, listing("AssignmentRuleSort", "name", "priority", "created_at", "updated_at")]


@router.get(
    "/lead-assignment-rules",
    response_model=Page[AssignmentRuleRead],
    summary="Lead assignment rules in the order they are tried",
)
async def list_assignment_rules(_: LeadsRead, session: SessionDep, page: AssignmentRulePage) -> Page[AssignmentRuleRead]:
    return await assignment.list_rules(session, page)


@router.post(
    "/lead-assignment-rules",
    response_model=AssignmentRuleRead,
    status_code=status.HTTP_201_CREATED,
    summary="Add a lead assignment rule (admins)",
)
@raises("assignment_rule.invalid_team", "assignment_rule.invalid_user", "assignment_rule.one_target", "dictionary.unknown_value")
async def create_assignment_rule(body: AssignmentRuleCreate, principal: SettingsWrite, session: SessionDep) -> AssignmentRuleRead:
    return AssignmentRuleRead.model_validate(await assignment.create_rule(session, principal, body))


@router.get(
    "/lead-assignment-rules/{rule_id}",
    response_model=AssignmentRuleRead,
    summary="Get a lead assignment rule",
)
@raises("assignment_rule.not_found")
async def get_assignment_rule(rule_id: Id, _: LeadsRead, session: SessionDep) -> AssignmentRuleRead:
    return AssignmentRuleRead.model_validate(await assignment.get_rule(session, rule_id))


@router.patch(
    "/lead-assignment-rules/{rule_id}",
    response_model=AssignmentRuleRead,
    summary="Change a lead assignment rule (admins)",
)
@raises(
    "assignment_rule.invalid_team",
    "assignment_rule.invalid_user",
    "assignment_rule.not_found",
    "assignment_rule.one_target",
    "dictionary.unknown_value",
)
async def update_assignment_rule(
    rule_id: Id, body: AssignmentRuleUpdate, principal: SettingsWrite, session: SessionDep
) -> AssignmentRuleRead:
    return AssignmentRuleRead.model_validate(await assignment.update_rule(session, principal, rule_id, body))


@router.delete(
    "/lead-assignment-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a lead assignment rule (admins)",
)
@raises("assignment_rule.not_found")
async def delete_assignment_rule(rule_id: Id, principal: SettingsWrite, session: SessionDep) -> None:
    await assignment.delete_rule(session, principal, rule_id)
