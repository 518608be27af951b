"""Demo service desk: SLA policies, a routing rule, KB articles and tickets in every status. Idempotent."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.churn.demo import demo_customer, demo_principal
from crm_api.kb.schemas import ArticleCreate
from crm_api.kb.service import create_article
from crm_api.models.identity import User
from crm_api.models.ticket import KbArticle, SlaPolicy, TicketRoutingRule
from crm_api.tickets import service
from crm_api.tickets.routing import create_routing_rule, replace_sla_policies
from crm_api.tickets.schemas import (
    AssignTicket,
    HandleTicket,
    RoutingRuleCreate,
    SlaPolicyWrite,
    TicketCreate,
    TicketFeedbackCreate,
)

# priority -> (first response, resolution) in minutes; complaints get half the time.
SLA_MINUTES = {"urgent": (30, 240), "high": (60, 480), "normal": (240, 1440), "low": (480, 2880)}

ARTICLES = [
    ("打印机无法开机怎么办", "1. 检查电源线与插座；2. 长按电源键十秒复位；3. 仍无法开机请登记返修。"),
    ("发票开具与邮寄说明", "增值税专用发票在订单回款后三个工作日内开具，并以顺丰寄出。"),
    ("七天无理由退货流程", "签收七天内、包装完好的商品可退货；客服登记后安排上门取件。"),
]


async def _policies(session: AsyncSession, admin: User) -> None:
    if await session.scalar(select(SlaPolicy.id).limit(1)) is not None:
        return
    policies = [
        SlaPolicyWrite(
            service_type=service_type,
            priority=priority,
            first_response_minutes=response // (2 if service_type == "complaint" else 1),
            resolution_minutes=resolution // (2 if service_type == "complaint" else 1),
        )
        for service_type in ("consultation", "suggestion", "complaint")
        for priority, (response, resolution) in SLA_MINUTES.items()
    ]
    await replace_sla_policies(session, await demo_principal(session, admin), policies)


async def _routing(session: AsyncSession, admin: User, senior: User) -> None:
    if await session.scalar(select(TicketRoutingRule.id).where(TicketRoutingRule.name == "大客户专人服务")) is None:
        rule = RoutingRuleCreate(name="大客户专人服务", customer_level="major", assignee_id=senior.id, sort_order=10)
        await create_routing_rule(session, await demo_principal(session, admin), rule)


async def _articles(session: AsyncSession, admin: User) -> list[KbArticle]:
    articles = []
    for title, body in ARTICLES:
        article = await session.scalar(select(KbArticle).where(KbArticle.title == title))
        articles.append(
            article or await create_article(session, await demo_principal(session, admin), ArticleCreate(title=title, body=body))
        )
    return articles


async def seed_service(session: AsyncSession, users: dict[str, User]) -> None:
    admin, supervisor, manager, senior = users["admin"], users["zhang.wei"], users["li.na"], users["wang.fang"]
    await _policies(session, admin)
    await _routing(session, admin, senior)
    articles = await _articles(session, admin)
    customer, created = await demo_customer(session, "demo-service-regular", "宁波港城物流有限公司", manager, age_days=200)
    major, _ = await demo_customer(
        session, "demo-service-major", "上海浦江科技集团有限公司", manager, level="major", age_days=400
    )
    if not created:
        return
    as_manager, as_supervisor, as_senior = [await demo_principal(session, u) for u in (manager, supervisor, senior)]

    async def open_ticket(summary: str, service_type: str, customer_id: int, priority: str = "normal") -> int:
        data = TicketCreate(
            service_type=service_type,
            summary=summary,
            customer_id=customer_id,
            channel="phone",
            priority=priority,
            content=f"客户来电：{summary}",
        )
        return (await service.create_ticket(session, as_manager, data)).id

    await open_ticket("咨询年度保养套餐价格", "consultation", customer.id)  # stays new
    await open_ticket("大客户：设备异响投诉", "complaint", major.id, "high")  # routed, assigned to the senior
    handled = await open_ticket("打印机无法开机", "complaint", customer.id, "urgent")
    await service.assign(session, as_supervisor, handled, AssignTicket(assignee_id=manager.id))
    await service.link_article(session, as_manager, handled, articles[0].id)
    await service.handle(session, as_manager, handled, HandleTicket(method="远程指导客户复位电源，已恢复"))
    archived = await open_ticket("建议增加微信下单渠道", "suggestion", customer.id, "low")
    await service.assign(session, as_supervisor, archived, AssignTicket(assignee_id=senior.id))
    await service.handle(session, as_senior, archived, HandleTicket(method="已转产品部评估，下季度上线"))
    await service.give_feedback(session, as_manager, archived, TicketFeedbackCreate(result="客户满意", satisfaction=5))
    reopened = await open_ticket("发票信息有误", "complaint", customer.id)
    await service.assign(session, as_supervisor, reopened, AssignTicket(assignee_id=manager.id))
    await service.handle(session, as_manager, reopened, HandleTicket(method="告知客户重新提交开票信息"))
    await service.give_feedback(
        session, as_manager, reopened, TicketFeedbackCreate(result="客户认为处理太慢，要求重开", satisfaction=2)
    )
