"""Lead assignment rules: by region / industry / source, to a user or round-robin inside a team."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.errors import InvalidInput
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.dictionary.service import ensure_value
from crm_api.leads.repository import AssignmentRuleRepository
from crm_api.leads.schemas import AssignmentRuleCreate, AssignmentRuleRead, AssignmentRuleUpdate
from crm_api.models.identity import Team
from crm_api.models.pipeline import LeadAssignmentRule


async def choose_owner(
    session: AsyncSession, *, region: str | None, industry: str | None, source: str | None
) -> tuple[int, LeadAssignmentRule] | None:
    """The owner the first applicable rule gives, and that rule; a team rule advances its round-robin."""
    repo = AssignmentRuleRepository(session)
    for rule in await repo.matching(region=region, industry=industry, source=source):
        if rule.user_id is not None:
            if await repo.is_active_user(rule.user_id):
                return rule.user_id, rule
            continue
        assert rule.team_id is not None  # one_target constraint
        members = await repo.round_robin_members(rule.team_id)
        if not members:
            continue
        previous = rule.last_assigned_user_id
        chosen = next((m for m in members if previous is None or m > previous), members[0])
        rule.last_assigned_user_id = chosen
        return chosen, rule
    return None


async def list_rules(session: AsyncSession, params: PageParams) -> Page[AssignmentRuleRead]:
    repo = AssignmentRuleRepository(session)
    sort = Sort([LeadAssignmentRule.priority, LeadAssignmentRule.id], descending=False)
    return (await repo.page(repo.select(), params, sort)).to_page(AssignmentRuleRead.model_validate)


async def get_rule(session: AsyncSession, rule_id: int) -> LeadAssignmentRule:
    return await AssignmentRuleRepository(session).get_or_404(rule_id, "Assignment rule")


async def _validate(session: AsyncSession, rule: LeadAssignmentRule) -> None:
    await ensure_value(session, "region", rule.region, field="region")
    await ensure_value(session, "industry", rule.industry, field="industry")
    await ensure_value(session, "lead_source", rule.source, field="source")
    if (rule.user_id is None) == (rule.team_id is None):
        raise InvalidInput("user_id", "Give exactly one of user_id and team_id", code="assignment_rule.one_target")
    if rule.user_id is not None and not await AssignmentRuleRepository(session).is_active_user(rule.user_id):
        raise InvalidInput("user_id", "The user must be active", code="assignment_rule.invalid_user")
    if rule.team_id is not None and await session.get(Team, rule.team_id) is None:
        raise InvalidInput("team_id", f"Team {rule.team_id} does not exist", code="assignment_rule.invalid_team")


async def create_rule(session: AsyncSession, actor: Principal, data: AssignmentRuleCreate) -> LeadAssignmentRule:
    rule = LeadAssignmentRule(**data.model_dump())
    await _validate(session, rule)
    session.add(rule)
    await audit.record_change(session, actor=actor, entity_type="lead_assignment_rule", entity=rule, action="create", before=None)
    return rule


async def update_rule(session: AsyncSession, actor: Principal, rule_id: int, data: AssignmentRuleUpdate) -> LeadAssignmentRule:
    rule = await get_rule(session, rule_id)
    before = audit.snapshot(rule)
    changes = data.changes()
    for field, value in changes.items():
        setattr(rule, field, value)
    if {"user_id", "team_id"} & changes.keys():
        rule.last_assigned_user_id = None
    await _validate(session, rule)
    await audit.record_change(
        session, actor=actor, entity_type="lead_assignment_rule", entity=rule, action="update", before=before
    )
    return rule


async def delete_rule(session: AsyncSession, actor: Principal, rule_id: int) -> None:
    rule = await get_rule(session, rule_id)
    await audit.delete_recorded(session, actor=actor, entity_type="lead_assignment_rule", entity=rule)
