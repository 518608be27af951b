"""Lead scores: 0–100 from admin-editable rules, with the matched rules kept as the explanation."""

from typing import Any

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
    return bool(getattr(lead, rule.criterion) == rule.value)


def score_of(lead: Lead, rules: list[LeadScoringRule], activities: int) -> dict[str, Any]:
    """The lead's `score` and `score_reasons` under the rules."""
    matched = [rule for rule in rules if _matches(rule, lead, activities)]
    return {
        "score": max(0, min(100, sum(rule.points for rule in matched))),
        "score_reasons": [{"criterion": r.criterion, "value": r.value, "points": r.points} for r in matched],
    }


def _set(lead: Lead, scored: dict[str, Any]) -> None:
    for field, value in scored.items():
        setattr(lead, field, value)


def apply_rules(lead: Lead, rules: list[LeadScoringRule], activities: int) -> None:
    _set(lead, score_of(lead, rules, activities))


async def current_score(session: AsyncSession, lead: Lead, *, new_activities: int = 0) -> dict[str, Any]:
    """The lead's score fields now, counting `new_activities` about to be recorded: a transition's changes."""
    recorded = await LeadRepository(session).activity_count(lead.id) if lead.id is not None else 0
    return score_of(lead, await ScoringRuleRepository(session).all(), recorded + new_activities)


async def rescore(session: AsyncSession, lead: Lead) -> None:
    """Recompute one lead's score; called on every change of the lead."""
    _set(lead, await current_score(session, lead))


async def list_rules(session: AsyncSession) -> list[LeadScoringRule]:
    return await ScoringRuleRepository(session).all()


async def replace_rules(session: AsyncSession, actor: Principal, data: ScoringRulesPut) -> list[LeadScoringRule]:
    """The whole rule set at once; leads not yet converted are rescored under it."""
    repo = ScoringRuleRepository(session)
    for index, rule in enumerate(data.rules):
        category = DICTIONARY_CRITERIA.get(rule.criterion)
        if category is not None:
            await ensure_value(session, category, rule.value, field=f"rules.{index}.value")
    before = [audit.snapshot(r) for r in await repo.all()]
    await repo.clear()
    rules = [LeadScoringRule(position=index, **rule.model_dump()) for index, rule in enumerate(data.rules)]
    session.add_all(rules)
    await audit.record_replacement(session, actor=actor, set_type="lead_scoring_rules", key="rules", before=before, after=rules)
    for lead, activities in await LeadRepository(session).not_converted_with_activity_counts():
        apply_rules(lead, rules, activities)
    await session.flush()
    return rules
