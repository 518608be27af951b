"""Demo pipeline: scoring and assignment rules, leads in every status, opportunities in every status with plans."""

from datetime import date

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import principal_for_user
from crm_api.core.permissions import Principal
from crm_api.customers.demo import DEMO_EXTERNAL_ID
from crm_api.leads import assignment, scoring
from crm_api.leads import service as leads
from crm_api.leads.schemas import (
    ActivityCreate,
    AssignmentRuleCreate,
    ConvertBody,
    LeadCreate,
    ScoringRuleIn,
    ScoringRulesPut,
)
from crm_api.models.identity import User
from crm_api.models.pipeline import Opportunity
from crm_api.opportunities import service as opportunities
from crm_api.opportunities.schemas import AssignBody, OpportunityCreate, PlanItemCreate, PlanItemUpdate, WinBody

DEMO_SCORING = [
    ("field_present", "email", 10),
    ("field_present", "phone", 10),
    ("source", "referral", 25),
    ("source", "trade_show", 15),
    ("industry", "manufacturing", 15),
    ("activity_count", "2", 25),
]

# company, contact, phone, email, source, region, industry, what happens to it
DEMO_LEADS = [
    ("宁波海天塑机有限公司", "周敏", "13705741234", "zhou.min@haitian.example", "trade_show", "zhejiang", "manufacturing", "new"),
    ("苏州恒信物流有限公司", "吴刚", "13912345678", "wu.gang@hengxin.example", "website", "jiangsu", "logistics", "working"),
    (
        "广州美康医疗器械有限公司",
        "郑丽",
        "13622223333",
        "zheng.li@meikang.example",
        "referral",
        "guangdong",
        "healthcare",
        "qualified",
    ),
    (
        "成都学而思教育咨询有限公司",
        "冯涛",
        "13888886666",
        "feng.tao@xueersi.example",
        "cold_call",
        "sichuan",
        "education",
        "disqualified",
    ),
    ("杭州联华超市有限公司", "陈晨", "13511112222", "chen.chen@lianhua.example", "referral", "zhejiang", "retail", "converted"),
]

# customer, summary, probability, amount, what happens to it
DEMO_OPPORTUNITIES = [
    ("杭州西子电梯有限公司", "Maintenance contract for 40 elevators", 30, "260000.00", "unassigned"),
    ("南京熊猫电子有限公司", "CRM seats for the sales team", 60, "180000.00", "assigned"),
    ("无锡小天鹅电器有限公司", "Spare parts framework agreement", 70, "95000.00", "lost"),
    ("常州天合光能有限公司", "Solar panel line monitoring", 80, "420000.00", "won"),
]


async def _as(session: AsyncSession, user: User) -> Principal:
    found = await principal_for_user(session, user.id)
    assert found is not None  # demo users are active
    return found[0]


async def seed_pipeline(session: AsyncSession, users: dict[str, User]) -> None:
    if await session.scalar(select(exists().where(Opportunity.id.is_not(None)))):
        return
    admin, marketer = await _as(session, users["admin"]), await _as(session, users["sun.li"])
    supervisor, manager = await _as(session, users["zhang.wei"]), await _as(session, users["li.na"])
    rules = [ScoringRuleIn(criterion=c, value=v, points=p) for c, v, p in DEMO_SCORING]
    await scoring.replace_rules(session, admin, ScoringRulesPut(rules=rules))
    await assignment.create_rule(
        session, admin, AssignmentRuleCreate(name="华东线索轮转", region="zhejiang", team_id=users["li.na"].team_id)
    )
    await assignment.create_rule(
        session, admin, AssignmentRuleCreate(name="华南线索", region="guangdong", user_id=users["liu.yang"].id)
    )
    for company, contact, phone, email, source, region, industry, fate in DEMO_LEADS:
        lead = await leads.create(
            session,
            marketer,
            LeadCreate(
                company=company,
                contact_name=contact,
                phone=phone,
                email=email,
                source=source,
                region=region,
                industry=industry,
            ),
        )
        if fate in {"working", "qualified", "converted"}:
            await leads.add_activity(session, marketer, lead.id, ActivityCreate(kind="attended_webinar"))
            await leads.add_activity(session, marketer, lead.id, ActivityCreate(kind="call", notes="Asked for a quote"))
        if fate == "qualified":
            await leads.qualify(session, marketer, lead.id)
        elif fate == "disqualified":
            await leads.disqualify(session, marketer, lead.id, "Only wanted free training material")
        elif fate == "converted":
            await leads.convert(session, marketer, lead.id, ConvertBody(summary="Store POS upgrade", success_probability=50))

    for customer, summary, probability, amount, fate in DEMO_OPPORTUNITIES:
        opportunity = await opportunities.create(
            session,
            manager,
            OpportunityCreate(
                customer_name=customer,
                summary=summary,
                success_probability=probability,
                expected_amount=amount,
                description=f"{summary}; first meeting went well",
                contact_name="张经理",
                contact_phone="0571-88886666",
                source="trade_show",
            ),
        )
        if fate == "unassigned":
            continue
        await opportunities.assign(session, supervisor, opportunity.id, AssignBody(assignee_id=users["li.na"].id))
        visit = await opportunities.add_plan_item(
            session, manager, opportunity.id, PlanItemCreate(planned_on=date(2026, 11, 2), content="Visit and present the offer")
        )
        await opportunities.update_plan_item(
            session, manager, opportunity.id, visit.id, PlanItemUpdate(result="Met the purchasing head; wants a revised quote")
        )
        await opportunities.add_plan_item(
            session, manager, opportunity.id, PlanItemCreate(planned_on=date(2026, 12, 1), content="Send the revised quote")
        )
        await opportunities.change_stage(session, manager, opportunity.id, "proposal")
        if fate == "lost":
            await opportunities.lose(session, manager, opportunity.id, "Budget frozen until next year")
        elif fate == "won":
            _, customer_won = await opportunities.win(session, manager, opportunity.id, WinBody(contact_title="采购经理"))
            customer_won.external_id = f"{DEMO_EXTERNAL_ID}won-{opportunity.code}"
