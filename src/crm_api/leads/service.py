"""Leads: capture with de-duplication, scoring and assignment, the nurture trail, and conversion, as `policy` states it."""

from collections.abc import Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.errors import Conflict, InvalidInput
from crm_api.core.http import check_if_match
from crm_api.core.outbox import RecordEvents
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.core.query import PrefixedParams
from crm_api.core.transitions import compare_and_set, transition
from crm_api.custom_fields import service as custom_fields
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.customers.service import CustomerKeys, duplicates_of, normalized_phones
from crm_api.dictionary.service import ensure_value
from crm_api.leads import assignment, scoring
from crm_api.leads.policy import OPEN_STATUSES, RULES, LeadAction, LeadStatus
from crm_api.leads.repository import ActivityRepository, LeadRepository
from crm_api.leads.schemas import ActivityCreate, ActivityRead, ConvertBody, LeadCreate, LeadRead, LeadUpdate
from crm_api.models.pipeline import Lead, LeadActivity, Opportunity
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import Link, NotificationType
from crm_api.opportunities import service as opportunities
from crm_api.opportunities.schemas import OpportunityCreate

READ = "leads:read"
LEAD_PHONES = {"phone": "phone_e164"}


EVENTS = RecordEvents("lead", LeadRead, "A lead")


def to_read(lead: Lead, actor: Principal) -> LeadRead:
    fields = {name: getattr(lead, name) for name in LeadRead.model_fields if name != "allowed_actions"}
    return LeadRead(**fields, allowed_actions=RULES.allowed_actions(lead, actor))


async def _transition(session: AsyncSession, actor: Principal, lead: Lead, action: LeadAction, changes: dict[str, Any]) -> Lead:
    return await transition(session, lead, actor=actor, entity_type="lead", action=action, changes=changes)


async def get(session: AsyncSession, actor: Principal, lead_id: int) -> Lead:
    return await LeadRepository(session).get_scoped_or_404(lead_id, actor, READ, "Lead")


async def ids_by_external_id(session: AsyncSession, external_ids: Collection[str]) -> dict[str, int]:
    """external_id -> id of the leads that carry one of them, whatever their scope (update checks it)."""
    return await LeadRepository(session).ids_by_external_id(external_ids)


async def is_visible(session: AsyncSession, principal: Principal, lead_id: int) -> bool:
    """Whether the lead exists and is within the principal's `leads:read` scope (a task's related record)."""
    return await LeadRepository(session).get_scoped(lead_id, principal, READ) is not None


async def list_leads(
    session: AsyncSession,
    actor: Principal,
    params: PageParams,
    *,
    status: LeadStatus | None = None,
    owner_id: int | None = None,
    source: str | None = None,
    region: str | None = None,
    industry: str | None = None,
    min_score: int | None = None,
    q: str | None = None,
    custom: PrefixedParams = (),
) -> Page[LeadRead]:
    repo = LeadRepository(session)
    statement = repo.filtered(
        repo.scoped(actor, READ),
        status=status,
        owner_id=owner_id,
        source=source,
        region=region,
        industry=industry,
        min_score=min_score,
        q=q,
    ).where(*await custom_fields.filter_conditions(session, CustomFieldEntity.LEAD, custom))
    return (await repo.page(statement, params)).to_page(lambda lead: to_read(lead, actor))


async def _validate_codes(session: AsyncSession, values: dict[str, Any]) -> None:
    for field, category in scoring.DICTIONARY_CRITERIA.items():
        if field in values:
            await ensure_value(session, category, values[field], field=field)


def _normalized_contact(phone: str | None, email: str | None) -> tuple[str | None, str | None]:
    phone_e164 = normalized_phones({"phone": phone}, LEAD_PHONES)["phone_e164"]
    return phone_e164, email.lower() if email else None


async def _refuse_duplicate(session: AsyncSession, lead: Lead) -> None:
    duplicate = await LeadRepository(session).open_duplicate(
        phone_e164=lead.phone_e164, email=lead.email_normalized, except_id=lead.id
    )
    if duplicate is not None:
        raise Conflict(
            f"Open lead {duplicate.id} has the same phone or email", code="lead.duplicate", existing_lead_id=duplicate.id
        )


async def _refuse_registered_elsewhere(session: AsyncSession, actor: Principal, lead: Lead) -> None:
    """报备 (§3.12): a lead for a company someone else already owns as a customer (same normalized name or phone) is
    theirs to work, unless the caller owns that customer; a pool customer is anyone's to claim."""
    [matches] = await duplicates_of(session, [CustomerKeys.of({"name": lead.company, "phone_e164": lead.phone_e164})])
    for match in matches:
        if match.owner_id is not None and match.owner_id != actor.user_id:
            raise Conflict(
                f"Customer {match.id} {match.name} is owned by {match.owner_name}: the lead is registered to them",
                code="lead.registered_elsewhere",
                customer=match.model_dump(),
            )


async def create(session: AsyncSession, actor: Principal, data: LeadCreate) -> Lead:
    values = data.model_dump()
    await _validate_codes(session, values)
    values["custom_fields"] = await custom_fields.validate_values(session, CustomFieldEntity.LEAD, data.custom_fields)
    phone_e164, email_normalized = _normalized_contact(data.phone, data.email)
    lead = Lead(
        **values, phone_e164=phone_e164, email_normalized=email_normalized, status=LeadStatus.NEW, created_by_id=actor.user_id
    )
    await _refuse_duplicate(session, lead)
    await _refuse_registered_elsewhere(session, actor, lead)
    chosen = await assignment.choose_owner(session, region=data.region, industry=data.industry, source=data.source)
    if chosen is not None:
        lead.owner_id, rule = chosen
        lead.assignment_rule_id = rule.id
    elif actor.user_id is not None:
        lead.owner_id = actor.user_id
    else:
        raise InvalidInput("owner_id", "No assignment rule matches and the caller is not a user", code="lead.no_owner")
    await scoring.rescore(session, lead)
    session.add(lead)
    await audit.record_change(session, actor=actor, entity_type="lead", entity=lead, action="create", before=None)
    await EVENTS.publish(session, "created", lead.id, to_read(lead, actor))
    if lead.owner_id != actor.user_id:  # an assignment rule gave it to someone else
        await notifications.notify(
            session,
            [lead.owner_id],
            NotificationType.ASSIGNMENT,
            "A new lead was assigned to you",
            " · ".join(part for part in (lead.company, lead.contact_name) if part),
            Link("lead", lead.id),
        )
    return lead


async def update(session: AsyncSession, actor: Principal, lead_id: int, data: LeadUpdate, *, if_match: str | None = None) -> Lead:
    lead = await get(session, actor, lead_id)
    check_if_match(if_match, lead)
    RULES.enforce(LeadAction.EDIT, lead, actor)
    changes = data.changes()
    await _validate_codes(session, changes)
    if "custom_fields" in changes:
        changes["custom_fields"] = await custom_fields.validate_values(
            session, CustomFieldEntity.LEAD, changes["custom_fields"], current=lead.custom_fields, record_id=lead.id
        )
    before = audit.snapshot(lead)
    for field, value in changes.items():
        setattr(lead, field, value)
    if {"phone", "email"} & changes.keys():
        lead.phone_e164, lead.email_normalized = _normalized_contact(lead.phone, lead.email)
        if lead.status in OPEN_STATUSES:
            await _refuse_duplicate(session, lead)
    if {"company", "phone"} & changes.keys():
        await _refuse_registered_elsewhere(session, actor, lead)
    await scoring.rescore(session, lead)
    await audit.record_change(session, actor=actor, entity_type="lead", entity=lead, action="update", before=before)
    await EVENTS.publish(session, "updated", lead.id, to_read(lead, actor))
    return lead


async def delete(session: AsyncSession, actor: Principal, lead_id: int) -> None:
    lead = await get(session, actor, lead_id)
    RULES.enforce(LeadAction.DELETE, lead, actor)
    await EVENTS.publish(session, "deleted", lead.id, to_read(lead, actor))
    await audit.delete_recorded(session, actor=actor, entity_type="lead", entity=lead)


async def add_activity(session: AsyncSession, actor: Principal, lead_id: int, data: ActivityCreate) -> LeadActivity:
    """An activity on a new lead means someone is working it; the lead moves first, then the activity is recorded."""
    lead = await get(session, actor, lead_id)
    RULES.enforce(LeadAction.NURTURE, lead, actor)
    changes = await scoring.current_score(session, lead, new_activities=1)
    if lead.status == LeadStatus.NEW:
        changes["status"] = LeadStatus.WORKING
    await _transition(session, actor, lead, LeadAction.NURTURE, changes)
    activity = LeadActivity(
        lead_id=lead.id,
        kind=data.kind,
        occurred_at=data.occurred_at or clock.now(),
        notes=data.notes,
        created_by_id=actor.user_id,
    )
    session.add(activity)
    await audit.record_change(session, actor=actor, entity_type="lead_activity", entity=activity, action="create", before=None)
    return activity


async def list_activities(session: AsyncSession, actor: Principal, lead_id: int, params: PageParams) -> Page[ActivityRead]:
    lead = await get(session, actor, lead_id)
    repo = ActivityRepository(session)
    sort = Sort([LeadActivity.occurred_at, LeadActivity.id])
    return (await repo.page(repo.of_lead(lead.id), params, sort)).to_page(ActivityRead.model_validate)


async def qualify(session: AsyncSession, actor: Principal, lead_id: int) -> Lead:
    lead = await get(session, actor, lead_id)
    RULES.enforce(LeadAction.QUALIFY, lead, actor)
    changes = {"status": LeadStatus.QUALIFIED, **await scoring.current_score(session, lead)}
    return await _transition(session, actor, lead, LeadAction.QUALIFY, changes)


async def disqualify(session: AsyncSession, actor: Principal, lead_id: int, reason: str) -> Lead:
    lead = await get(session, actor, lead_id)
    RULES.enforce(LeadAction.DISQUALIFY, lead, actor)
    changes = {"status": LeadStatus.DISQUALIFIED, "disqualify_reason": reason, **await scoring.current_score(session, lead)}
    return await _transition(session, actor, lead, LeadAction.DISQUALIFY, changes)


async def convert(session: AsyncSession, actor: Principal, lead_id: int, data: ConvertBody) -> tuple[Lead, Opportunity]:
    """The lead becomes an unassigned opportunity created on its owner's behalf; the lead keeps the link."""
    lead = await get(session, actor, lead_id)
    RULES.enforce(LeadAction.CONVERT, lead, actor)
    # Converted first: only the request whose compare-and-set matched goes on to create the opportunity.
    before = audit.snapshot(lead)
    await compare_and_set(
        session, lead, entity_type="lead", changes={"status": LeadStatus.CONVERTED, "converted_at": clock.now()}
    )
    summary = data.summary or f"{lead.company} · {lead.contact_name}"[:300]
    opportunity = await opportunities.create(
        session,
        actor,
        OpportunityCreate(
            source=lead.source,
            customer_name=lead.company,
            success_probability=data.success_probability if data.success_probability is not None else lead.score,
            summary=summary,
            contact_name=lead.contact_name,
            contact_phone=lead.phone,
            description=data.description or lead.notes or summary,
            expected_amount=data.expected_amount,
            expected_close_date=data.expected_close_date,
            custom_fields=data.custom_fields,
        ),
        created_by_id=lead.owner_id,
    )
    lead.opportunity_id = opportunity.id
    await audit.record_change(session, actor=actor, entity_type="lead", entity=lead, action="convert", before=before)
    return lead, opportunity
