"""Lead scores: 0–100 from admin-editable rules, with the matched rules kept as the explanation."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.permissions import Principal
from crm_api.dictionary.service import ensure_value
from crm_api.leads.repository import LeadRepository, ScoringRuleRepository
from crm_api.leads.schemas import ScoringRulesPut
from crm_api.models.pipeline import Lead, LeadScoringRule

# Scoring criteria that compare a lead field with a dictionary value, and that dictionary.
DICTIONARY_CRITERIA = {"source": "lead_source", "region": "region", "industry": "industry"}


def _matches(rule: LeadScoringRule, lead: Lead, activities: int) -> bool:
    if rule.criterion == "field_present":
        return bool(getattr(lead, rule.value))
    if rule.criterion == "activity_count":
        return activities >= int(rule.value)
    return getattr(lead, rule.criterion) == rule.value


def apply_rules(lead: Lead, rules: list[LeadScoringRule], activities: int) -> None:
    matched = [rule for rule in rules if _matches(rule, lead, activities)]
    lead.score = max(0, min(100, sum(rule.points for rule in matched)))
    lead.score_reasons = [{"criterion": r.criterion, "value": r.value, "points": r.points} for r in matched]


async def rescore(session: AsyncSession, lead: Lead) -> None:
    """Recompute one lead's score; called on every change of the lead."""
    activities = await LeadRepository(session).activity_count(lead.id) if lead.id is not None else 0
    apply_rules(lead, await ScoringRuleRepository(session).all(), activities)


async def list_rules(session: AsyncSession) -> list[LeadScoringRule]:
    return await ScoringRuleRepository(session).all()


async def replace_rules(session: AsyncSession, actor: Principal, data: ScoringRulesPut) -> list[LeadScoringRule]:
    """The whole rule set at once; leads not yet converted are rescored under it."""
    repo = ScoringRuleRepository(session)
    for index, rule in enumerate(data.rules):
        category = DICTIONARY_CRITERIA.get(rule.criterion)
        if category is not None:
            await ensure_value(session, category, rule.value, field=f"rules.{index}.value")
    before = {"rules": [audit.snapshot(r) for r in await repo.all()]}
    await repo.clear()
    rules = [LeadScoringRule(position=index, **rule.model_dump()) for index, rule in enumerate(data.rules)]
    session.add_all(rules)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        entity_type="lead_scoring_rules",
        entity_id="all",
        action="replace",
        before=before,
        after={"rules": [audit.snapshot(r) for r in rules]},
    )
    for lead, activities in await LeadRepository(session).not_converted_with_activity_counts():
        apply_rules(lead, rules, activities)
    await session.flush()
    return rules
