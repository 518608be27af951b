"""Service settings: SLA policies per type and priority, and the routing rules applied on create."""

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.errors import InvalidInput
from crm_api.core.http import check_if_match
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.dictionary.service import ensure_value
from crm_api.models.identity import User
from crm_api.models.ticket import SlaPolicy, TicketRoutingRule
from crm_api.tickets.repository import RoutingRuleRepository, SlaPolicyRepository
from crm_api.tickets.schemas import RoutingRuleCreate, RoutingRuleRead, RoutingRuleUpdate, SlaPolicyRead, SlaPolicyWrite


async def _sla_policies(session: AsyncSession) -> list[SlaPolicy]:
    repo = SlaPolicyRepository(session)
    return list(await session.scalars(repo.select().order_by(SlaPolicy.service_type, SlaPolicy.priority)))


def _sla_view(policy: SlaPolicy) -> audit.Snapshot:
    """A policy in the audit trail: as the API reads it."""
    return SlaPolicyRead.model_validate(policy).model_dump()


async def list_sla_policies(session: AsyncSession) -> list[SlaPolicyRead]:
    return [SlaPolicyRead.model_validate(p) for p in await _sla_policies(session)]


async def replace_sla_policies(session: AsyncSession, actor: Principal, policies: list[SlaPolicyWrite]) -> list[SlaPolicyRead]:
    """The whole set at once; tickets keep the due times they were given when created."""
    seen: set[tuple[str, str]] = set()
    for index, policy in enumerate(policies):
        await ensure_value(session, "service_type", policy.service_type, field=f"{index}.service_type")
        key = (policy.service_type, policy.priority)
        if key in seen:
            raise InvalidInput(f"{index}.priority", f"{key[0]}/{key[1]} is given twice", code="sla_policy.duplicate")
        seen.add(key)
    before = [_sla_view(p) for p in await _sla_policies(session)]
    await session.execute(delete(SlaPolicy))
    session.add_all(SlaPolicy(**p.model_dump()) for p in policies)
    await session.flush()
    after = await _sla_policies(session)
    await audit.record_replacement(
        session, actor=actor, set_type="sla_policies", key="policies", before=before, after=after, view=_sla_view
    )
    return [SlaPolicyRead.model_validate(p) for p in after]


async def list_routing_rules(session: AsyncSession, params: PageParams) -> Page[RoutingRuleRead]:
    repo = RoutingRuleRepository(session)
    sort = Sort([TicketRoutingRule.sort_order, TicketRoutingRule.id], descending=False)
    return (await repo.page(repo.select(), params, sort)).to_page(RoutingRuleRead.model_validate)


async def get_routing_rule(session: AsyncSession, rule_id: int) -> TicketRoutingRule:
    return await RoutingRuleRepository(session).get_or_404(rule_id, "Routing rule")


async def _validate_rule(session: AsyncSession, rule: TicketRoutingRule) -> None:
    if rule.customer_level is None and rule.service_type is None:
        raise InvalidInput("customer_level", "Match on a customer level, a service type or both", code="routing_rule.no_criteria")
    await ensure_value(session, "customer_level", rule.customer_level, field="customer_level")
    await ensure_value(session, "service_type", rule.service_type, field="service_type")
    assignee = await session.get(User, rule.assignee_id)
    if assignee is None or not assignee.active:
        raise InvalidInput("assignee_id", f"User {rule.assignee_id} is not an active user", code="routing_rule.inactive_assignee")


async def create_routing_rule(session: AsyncSession, actor: Principal, data: RoutingRuleCreate) -> TicketRoutingRule:
    rule = TicketRoutingRule(**data.model_dump())
    await _validate_rule(session, rule)
    session.add(rule)
    await audit.record_change(session, actor=actor, entity_type="ticket_routing_rule", entity=rule, action="create", before=None)
    return rule


async def update_routing_rule(
    session: AsyncSession, actor: Principal, rule_id: int, data: RoutingRuleUpdate, *, if_match: str | None = None
) -> TicketRoutingRule:
    rule = await get_routing_rule(session, rule_id)
    check_if_match(if_match, rule)
    before = audit.snapshot(rule)
    for field, value in data.changes().items():
        setattr(rule, field, value)
    await _validate_rule(session, rule)
    await audit.record_change(
        session, actor=actor, entity_type="ticket_routing_rule", entity=rule, action="update", before=before
    )
    return rule


async def delete_routing_rule(session: AsyncSession, actor: Principal, rule_id: int) -> None:
    """Tickets routed by the rule keep their assignee; their rule reference is cleared."""
    rule = await get_routing_rule(session, rule_id)
    await audit.delete_recorded(session, actor=actor, entity_type="ticket_routing_rule", entity=rule)
