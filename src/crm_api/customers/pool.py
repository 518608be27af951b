"""The pool's rules beyond claim and release (§3.12): an owner's locks, the recycle rules, and the daily recycle that
returns neglected customers to the pool after warning their owners."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.clock import clock, local_today, start_of_local_day
from crm_api.core.config import Settings
from crm_api.core.errors import Conflict
from crm_api.core.outbox import EventType
from crm_api.core.permissions import Principal
from crm_api.core.transitions import compare_and_set
from crm_api.customers.policy import OwnershipAction
from crm_api.customers.repository import CustomerRepository, Staleness
from crm_api.customers.schemas import CustomerRead, RecycleRuleRead, RecycleRules
from crm_api.customers.service import (
    CUSTOMER_EVENTS,
    audit_view,
    ensure_active,
    load_customer,
    publish_ownership,
    record_ownership,
    reloaded,
    to_read,
)
from crm_api.dictionary.service import ensure_value
from crm_api.models.customer import Customer, RecycleRule
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import NotificationType

RECYCLED = EventType("customer.recycled", "The recycle job returned a customer to the pool (its rules, §3.12)", CustomerRead)
# The stored level of the default rule, which every level without a rule of its own follows.
DEFAULT_LEVEL = "*"


# Locks: the owner keeps a customer out of the recycle job, up to CRM_POOL_LOCK_LIMIT customers.


async def _set_lock(session: AsyncSession, actor: Principal, customer: Customer, action: OwnershipAction) -> Customer:
    before = audit_view(customer)
    locked_at = clock.now() if action == OwnershipAction.LOCK else None
    await compare_and_set(session, customer, entity_type="customer", changes={"locked_at": locked_at})
    changed = await reloaded(CustomerRepository(session), customer.id)
    await audit.record_change(
        session, actor=actor, entity_type="customer", entity=changed, action=action, before=before, view=audit_view
    )
    record_ownership(session, changed, action, actor, from_user_id=changed.owner_id)
    await CUSTOMER_EVENTS.publish(session, "updated", changed.id, to_read(changed))
    return changed


async def lock_customer(session: AsyncSession, actor: Principal, settings: Settings, customer_id: int) -> Customer:
    """By its owner, or whoever holds the owner in their customers:write scope; counts against the owner's limit."""
    customer = await load_customer(session, actor, customer_id, "customers:write")
    ensure_active(customer)
    if customer.owner_id is None:
        raise Conflict(f"Customer {customer.code} is in the pool; claim it first", code="customer.in_pool")
    if customer.locked_at is not None:
        raise Conflict(f"Customer {customer.code} is already locked", code="customer.already_locked")
    repo = CustomerRepository(session)
    await repo.hold_user(customer.owner_id)  # the owner's locks are counted and taken one at a time
    locked = await repo.locked_by(customer.owner_id)
    if locked >= settings.pool_lock_limit:
        raise Conflict(
            f"The owner has locked {locked} customers, the most one may lock is {settings.pool_lock_limit}",
            code="customer.lock_limit",
            limit=settings.pool_lock_limit,
        )
    return await _set_lock(session, actor, customer, OwnershipAction.LOCK)


async def unlock_customer(session: AsyncSession, actor: Principal, customer_id: int) -> Customer:
    customer = await load_customer(session, actor, customer_id, "customers:write")
    ensure_active(customer)
    if customer.locked_at is None:
        raise Conflict(f"Customer {customer.code} is not locked", code="customer.not_locked")
    return await _set_lock(session, actor, customer, OwnershipAction.UNLOCK)


# Recycle rules, per customer level.


def rule_read(rule: RecycleRule) -> RecycleRuleRead:
    read = RecycleRuleRead.model_validate(rule)
    return read.model_copy(update={"level": None}) if rule.level == DEFAULT_LEVEL else read


async def recycle_rules(session: AsyncSession) -> list[RecycleRule]:
    return await CustomerRepository(session).recycle_rules()


async def replace_recycle_rules(session: AsyncSession, actor: Principal, data: RecycleRules) -> list[RecycleRule]:
    """The whole set at once; each level must be an active `customer_level` item."""
    for index, rule in enumerate(data.rules):
        if rule.level is not None:
            await ensure_value(session, "customer_level", rule.level, field=f"rules.{index}.level")
    repo = CustomerRepository(session)
    before = [audit.snapshot(rule) for rule in await repo.recycle_rules()]
    await repo.clear_recycle_rules()
    rules = [
        RecycleRule(
            **rule.model_dump() | {"level": rule.level or DEFAULT_LEVEL}, updated_by_id=actor.user_id, updated_at=clock.now()
        )
        for rule in data.rules
    ]
    session.add_all(rules)
    await audit.record_replacement(
        session, actor=actor, set_type="customer_recycle_rules", key="rules", before=before, after=rules
    )
    return sorted(rules, key=lambda rule: rule.level)


# The daily recycle.


def staleness(rule: RecycleRule, others: list[str], on: date, settings: Settings) -> Staleness:
    """What `rule` catches on day `on`: N days without an interaction means none on or after `on` - N, and owned
    since before that day began (a customer claimed yesterday has had no time to be neglected)."""

    def since(days: int | None) -> tuple[date, Any] | None:
        if days is None:
            return None
        day = on - timedelta(days=days)
        return day, start_of_local_day(day, settings.time_zone)

    return Staleness(
        level=None if rule.level == DEFAULT_LEVEL else rule.level,
        other_levels=others,
        interaction_since=since(rule.no_interaction_days),
        deal_since=since(rule.no_deal_days),
    )


async def recycle(session: AsyncSession, settings: Settings) -> dict[str, int]:
    """Return every customer its level's rule catches today to the pool (locked ones stay), then warn the owners of
    those it will catch within the rule's warning days. Dates come from the data, so a run now answers as the
    schedule would; a second run the same day finds nothing more to do."""
    repo = CustomerRepository(session)
    rules = await repo.recycle_rules()
    if not rules:
        return {"recycled": 0, "warned": 0}
    now, today = clock.now(), local_today(settings.time_zone)
    levels = [rule.level for rule in rules if rule.level != DEFAULT_LEVEL]

    due = await repo.hold_stale([staleness(rule, levels, today, settings) for rule in rules])
    befores = {customer.id: (audit_view(customer), customer.owner_id) for customer in due}
    ids = [customer.id for customer in due]
    await repo.return_to_pool(ids)
    await repo.settle_recycle_warnings(ids, now=now)
    for customer in await repo.reload_with_tags(ids):
        before, owner_id = befores[customer.id]
        await audit.record_change(
            session, actor=None, entity_type="customer", entity=customer, action="recycle", before=before, view=audit_view
        )
        level = customer.level if customer.level in levels else "the default rule"
        reason = f"Recycle rule: {level}"
        record_ownership(session, customer, OwnershipAction.RECYCLE, None, from_user_id=owner_id, reason=reason)
        await publish_ownership(session, RECYCLED, customer)

    warned, last_task_id = 0, await repo.last_task_id()
    for rule in rules:
        if rule.warning_days:
            on = today + timedelta(days=rule.warning_days)
            warned += await repo.open_recycle_warnings(
                staleness(rule, levels, on, settings),
                days=rule.warning_days,
                now=now,
                due_at=start_of_local_day(on, settings.time_zone),
                since=now - timedelta(days=rule.warning_days),
            )
    if warned:  # the owner hears of it in the message centre too, in this transaction
        await notifications.notify_selected(session, NotificationType.FOLLOW_UP_DUE, repo.recycle_warnings_opened(last_task_id))
    return {"recycled": len(ids), "warned": warned}
