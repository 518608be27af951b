"""Opportunities and their development plans: the state machine of SRS 003 §3.1, as `policy` states it."""

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.codes import next_code
from crm_api.core.errors import Conflict, InvalidInput, NotFound
from crm_api.core.http import check_if_match
from crm_api.core.outbox import EventType, RecordEvents
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.core.query import PrefixedParams
from crm_api.core.transitions import compare_and_set, transition
from crm_api.custom_fields import service as custom_fields
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.customers import service as customers
from crm_api.customers.schemas import ContactCreate, CustomerCreate
from crm_api.dictionary.service import ensure_value
from crm_api.models.customer import Customer
from crm_api.models.pipeline import Opportunity, PlanItem, Reminder, StageChange
from crm_api.models.platform import DictionaryItem
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import Link, NotificationType
from crm_api.opportunities.policy import RULES, OpportunityAction, OpportunityStatus
from crm_api.opportunities.repository import OpportunityRepository, PlanItemRepository, ReminderRepository
from crm_api.opportunities.schemas import (
    AssignBody,
    OpportunityCreate,
    OpportunityRead,
    OpportunityUpdate,
    PlanItemCreate,
    PlanItemRead,
    PlanItemUpdate,
    ReminderRead,
    WinBody,
)

READ = "opportunities:read"
STAGE_CATEGORY = "opportunity_stage"
PLAN_ITEM = "opportunity_plan_item"
EVENTS = RecordEvents("opportunity", OpportunityRead, "An opportunity")
WON = EventType("opportunity.won", "An opportunity was won; the customer created from it is `customer_id`", OpportunityRead)
LOST = EventType("opportunity.lost", "An opportunity was lost", OpportunityRead)


def to_read(opportunity: Opportunity, actor: Principal) -> OpportunityRead:
    fields = {name: getattr(opportunity, name) for name in OpportunityRead.model_fields if name != "allowed_actions"}
    return OpportunityRead(**fields, allowed_actions=RULES.allowed_actions(opportunity, actor))


async def _record(
    session: AsyncSession, actor: Principal, opportunity: Opportunity, action: str, before: audit.Snapshot | None
) -> None:
    await audit.record_change(session, actor=actor, entity_type="opportunity", entity=opportunity, action=action, before=before)


async def _transition(
    session: AsyncSession, actor: Principal, opportunity: Opportunity, action: str, changes: dict[str, Any]
) -> Opportunity:
    return await transition(session, opportunity, actor=actor, entity_type="opportunity", action=action, changes=changes)


async def get(session: AsyncSession, actor: Principal, opportunity_id: int, *, for_update: bool = False) -> Opportunity:
    repo = OpportunityRepository(session)
    return await repo.get_scoped_or_404(opportunity_id, actor, READ, "Opportunity", for_update=for_update)


async def ids_by_external_id(session: AsyncSession, external_ids: Collection[str]) -> dict[str, int]:
    """external_id -> id of the opportunities that carry one of them, whatever their scope (update checks it)."""
    return await OpportunityRepository(session).ids_by_external_id(external_ids)


async def is_visible(session: AsyncSession, principal: Principal, opportunity_id: int) -> bool:
    """Whether the opportunity exists and is within the principal's `opportunities:read` scope (a task's related record)."""
    return await OpportunityRepository(session).get_scoped(opportunity_id, principal, READ) is not None


async def list_opportunities(
    session: AsyncSession,
    actor: Principal,
    params: PageParams,
    *,
    status: OpportunityStatus | None = None,
    assignee_id: int | None = None,
    created_by: int | None = None,
    stage: str | None = None,
    q: str | None = None,
    custom: PrefixedParams = (),
) -> Page[OpportunityRead]:
    repo = OpportunityRepository(session)
    statement = repo.filtered(
        repo.scoped(actor, READ), status=status, assignee_id=assignee_id, created_by=created_by, stage=stage, q=q
    ).where(*await custom_fields.filter_conditions(session, CustomFieldEntity.OPPORTUNITY, custom))
    return (await repo.page(statement, params)).to_page(lambda o: to_read(o, actor))


async def _first_stage(session: AsyncSession) -> str:
    first = await session.scalar(
        select(DictionaryItem.value)
        .where(DictionaryItem.category == STAGE_CATEGORY, DictionaryItem.active.is_(True))
        .order_by(DictionaryItem.sort_order, DictionaryItem.id)
        .limit(1)
    )
    if first is None:
        raise Conflict("No active opportunity stage is configured", code="opportunity.no_stages")
    return first


async def create(
    session: AsyncSession, actor: Principal, data: OpportunityCreate, *, created_by_id: int | None = None
) -> Opportunity:
    """`created_by_id` differs from the actor only when a lead is converted on its owner's behalf."""
    await ensure_value(session, "lead_source", data.source, field="source")
    await ensure_value(session, STAGE_CATEGORY, data.stage, field="stage")
    creator = created_by_id if created_by_id is not None else actor.user_id
    if creator is None:
        raise InvalidInput("created_by", "An opportunity needs a signed-in creator", code="opportunity.no_creator")
    opportunity = Opportunity(
        **data.model_dump(exclude={"stage", "custom_fields"}),
        custom_fields=await custom_fields.validate_values(session, CustomFieldEntity.OPPORTUNITY, data.custom_fields),
        stage=data.stage or await _first_stage(session),
        code=await next_code(session, "JH"),
        status=OpportunityStatus.UNASSIGNED,
        created_by_id=creator,
    )
    session.add(opportunity)
    await _record(session, actor, opportunity, "create", None)
    await EVENTS.publish(session, "created", opportunity.id, to_read(opportunity, actor))
    return opportunity


async def update(
    session: AsyncSession, actor: Principal, opportunity_id: int, data: OpportunityUpdate, *, if_match: str | None = None
) -> Opportunity:
    opportunity = await get(session, actor, opportunity_id, for_update=if_match is not None)
    check_if_match(if_match, opportunity, lambda: to_read(opportunity, actor))
    RULES.enforce(OpportunityAction.EDIT, opportunity, actor)
    changes = data.changes()
    if "source" in changes:
        await ensure_value(session, "lead_source", changes["source"], field="source")
    if "custom_fields" in changes:
        changes["custom_fields"] = await custom_fields.validate_values(
            session,
            CustomFieldEntity.OPPORTUNITY,
            changes["custom_fields"],
            current=opportunity.custom_fields,
            record_id=opportunity.id,
        )
    before = audit.snapshot(opportunity)
    for field, value in changes.items():
        setattr(opportunity, field, value)
    await _record(session, actor, opportunity, "update", before)
    await EVENTS.publish(session, "updated", opportunity.id, to_read(opportunity, actor))
    return opportunity


async def delete(session: AsyncSession, actor: Principal, opportunity_id: int) -> None:
    opportunity = await get(session, actor, opportunity_id)
    RULES.enforce(OpportunityAction.DELETE, opportunity, actor)
    await EVENTS.publish(session, "deleted", opportunity.id, to_read(opportunity, actor))
    await audit.delete_recorded(session, actor=actor, entity_type="opportunity", entity=opportunity)


async def assign(session: AsyncSession, actor: Principal, opportunity_id: int, data: AssignBody) -> Opportunity:
    repo = OpportunityRepository(session)
    opportunity = await get(session, actor, opportunity_id)
    RULES.enforce(OpportunityAction.ASSIGN, opportunity, actor)
    if not await repo.is_active_account_manager(data.assignee_id):
        raise InvalidInput("assignee_id", "The assignee must be an active account manager", code="opportunity.invalid_assignee")
    now = clock.now()
    changes = {"status": OpportunityStatus.ASSIGNED, "assignee_id": data.assignee_id, "assigned_at": now, "stage_since": now}
    assigned = await _transition(session, actor, opportunity, OpportunityAction.ASSIGN, changes)
    await notifications.notify(
        session,
        [data.assignee_id],
        NotificationType.ASSIGNMENT,
        f"Opportunity {assigned.code} assigned to you",
        f"{assigned.customer_name}: {assigned.summary}",
        Link("opportunity", assigned.id),
    )
    return assigned


async def change_stage(session: AsyncSession, actor: Principal, opportunity_id: int, stage: str) -> Opportunity:
    opportunity = await get(session, actor, opportunity_id)
    RULES.enforce(OpportunityAction.STAGE, opportunity, actor)
    await ensure_value(session, STAGE_CATEGORY, stage, field="stage")
    if stage == opportunity.stage:
        raise Conflict(f"The opportunity is already at stage {stage}", code="opportunity.same_stage")
    assert actor.user_id is not None  # the assignee is a user
    now = clock.now()
    from_stage = opportunity.stage
    await _transition(session, actor, opportunity, "change_stage", {"stage": stage, "stage_since": now})
    session.add(
        StageChange(
            opportunity_id=opportunity.id, from_stage=from_stage, to_stage=stage, changed_by_id=actor.user_id, changed_at=now
        )
    )
    await ReminderRepository(session).settle_stall_reminders(opportunity.id, now=now)
    return opportunity


async def stage_history(session: AsyncSession, actor: Principal, opportunity_id: int) -> list[StageChange]:
    opportunity = await get(session, actor, opportunity_id)
    return await OpportunityRepository(session).stage_history(opportunity.id)


async def _close(session: AsyncSession, opportunity: Opportunity, changes: dict[str, Any]) -> None:
    """Won or lost: final, and a pending stall reminder is moot."""
    now = clock.now()
    await compare_and_set(session, opportunity, entity_type="opportunity", changes={**changes, "closed_at": now})
    await ReminderRepository(session).settle_stall_reminders(opportunity.id, now=now)


async def _publish_closed(session: AsyncSession, actor: Principal, opportunity: Opportunity) -> None:
    event = WON if opportunity.status == OpportunityStatus.WON else LOST
    await event.publish(session, entity_type="opportunity", entity_id=opportunity.id, payload=to_read(opportunity, actor))


async def lose(session: AsyncSession, actor: Principal, opportunity_id: int, reason: str | None) -> Opportunity:
    opportunity = await get(session, actor, opportunity_id)
    RULES.enforce(OpportunityAction.LOSE, opportunity, actor)
    before = audit.snapshot(opportunity)
    await _close(session, opportunity, {"status": OpportunityStatus.LOST, "lost_reason": reason})
    await _record(session, actor, opportunity, "lose", before)
    await _publish_closed(session, actor, opportunity)
    return opportunity


async def win(session: AsyncSession, actor: Principal, opportunity_id: int, data: WinBody) -> tuple[Opportunity, Customer]:
    """Won, and in the same transaction a customer owned by the assignee, its contact the first contact; or, with
    `customer_id`, attached to that existing customer (one the assignee may change), the contact added to it. A new
    customer goes through the duplicate guard: 409 `customer.duplicate` names the existing one to attach to."""
    opportunity = await get(session, actor, opportunity_id)
    RULES.enforce(OpportunityAction.WIN, opportunity, actor)
    phone = data.contact_phone or opportunity.contact_phone
    if opportunity.contact_name and phone is None:
        raise InvalidInput(
            "contact_phone",
            "The first contact needs an office phone: send contact_phone",
            code="opportunity.contact_phone_required",
        )
    # Won first: only the request whose compare-and-set matched goes on to create the customer.
    before = audit.snapshot(opportunity)
    await _close(session, opportunity, {"status": OpportunityStatus.WON})
    if data.customer_id is not None:
        customer = await customers.writable_customer(session, actor, data.customer_id)
    else:
        customer = (
            await customers.create_customer(
                session, actor, CustomerCreate(name=opportunity.customer_name, custom_fields=data.customer_custom_fields)
            )
        ).record
    if opportunity.contact_name and phone is not None:
        contact = ContactCreate(
            name=opportunity.contact_name,
            gender=data.contact_gender,
            title=data.contact_title,
            office_phone=phone,
            custom_fields=data.contact_custom_fields,
        )
        await customers.add_contact(session, actor, customer.id, contact)
    opportunity.customer_id = customer.id
    await _record(session, actor, opportunity, "win", before)
    await _publish_closed(session, actor, opportunity)
    return opportunity, customer


# Development plans


async def list_plan_items(session: AsyncSession, actor: Principal, opportunity_id: int, params: PageParams) -> Page[PlanItemRead]:
    opportunity = await get(session, actor, opportunity_id)
    repo = PlanItemRepository(session)
    sort = Sort([PlanItem.planned_on, PlanItem.id], descending=False)
    return (await repo.page(repo.of_opportunity(opportunity.id), params, sort)).to_page(PlanItemRead.model_validate)


async def _plan_item(session: AsyncSession, opportunity: Opportunity, item_id: int) -> PlanItem:
    item = await PlanItemRepository(session).get(item_id)
    if item is None or item.opportunity_id != opportunity.id:
        raise NotFound("Plan item", item_id)
    return item


async def get_plan_item(session: AsyncSession, actor: Principal, opportunity_id: int, item_id: int) -> PlanItem:
    return await _plan_item(session, await get(session, actor, opportunity_id), item_id)


async def add_plan_item(session: AsyncSession, actor: Principal, opportunity_id: int, data: PlanItemCreate) -> PlanItem:
    opportunity = await get(session, actor, opportunity_id)
    RULES.enforce(OpportunityAction.PLAN, opportunity, actor)
    assert actor.user_id is not None  # the assignee is a user
    item = PlanItem(opportunity_id=opportunity.id, created_by_id=actor.user_id, **data.model_dump())
    session.add(item)
    await audit.record_change(session, actor=actor, entity_type=PLAN_ITEM, entity=item, action="create", before=None)
    return item


async def update_plan_item(
    session: AsyncSession, actor: Principal, opportunity_id: int, item_id: int, data: PlanItemUpdate
) -> PlanItem:
    opportunity = await get(session, actor, opportunity_id)
    item = await _plan_item(session, opportunity, item_id)
    RULES.enforce(OpportunityAction.PLAN, opportunity, actor)
    before = audit.snapshot(item)
    for field, value in data.changes().items():
        setattr(item, field, value)
    await audit.record_change(session, actor=actor, entity_type=PLAN_ITEM, entity=item, action="update", before=before)
    return item


async def delete_plan_item(session: AsyncSession, actor: Principal, opportunity_id: int, item_id: int) -> None:
    opportunity = await get(session, actor, opportunity_id)
    item = await _plan_item(session, opportunity, item_id)
    RULES.enforce(OpportunityAction.PLAN, opportunity, actor)
    await audit.delete_recorded(session, actor=actor, entity_type=PLAN_ITEM, entity=item)


# Reminders


async def list_reminders(session: AsyncSession, actor: Principal, params: PageParams, *, open_only: bool) -> Page[ReminderRead]:
    repo = ReminderRepository(session)
    return (await repo.page(repo.of_user(actor.user_id, open_only=open_only), params)).to_page(ReminderRead.model_validate)


async def mark_reminder_done(session: AsyncSession, actor: Principal, reminder_id: int) -> Reminder:
    reminder = await ReminderRepository(session).get(reminder_id)
    if reminder is None or reminder.user_id != actor.user_id:
        raise NotFound("Reminder", reminder_id)
    if reminder.done_at is None:
        before = audit.snapshot(reminder)
        reminder.done_at = clock.now()
        await audit.record_change(session, actor=actor, entity_type="reminder", entity=reminder, action="done", before=before)
    return reminder
