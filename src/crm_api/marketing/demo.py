"""Demo segments, RFM scores and a campaign in every status, with variants and touches. Idempotent."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.churn.demo import demo_principal
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.permissions import Principal
from crm_api.customers.demo import is_demo_customer
from crm_api.marketing import campaigns, service
from crm_api.marketing.policy import TRACKED_STATUSES, CampaignAction, CampaignTransition
from crm_api.marketing.repository import CampaignRepository
from crm_api.marketing.schemas import CampaignCreate, SegmentCreate, SegmentFilters, TouchCreate, VariantCreate
from crm_api.models.customer import Contact, Customer
from crm_api.models.identity import User
from crm_api.models.marketing import Campaign, Segment

DEMO_SEGMENTS = [
    ("VIP 客户", "打了 VIP 标签的正常客户", SegmentFilters(tag="VIP", status="active")),
    ("高价值客户", "近 12 个月消费金额前 40%", SegmentFilters(monetary_min=4)),
]
# name, channel, budget, status reached through the transitions, A/B variants
DEMO_CAMPAIGNS = [
    ("新品发布预热", "wechat", "5000.00", "draft", []),
    ("双十一预售", "sms", "8000.00", "scheduled", []),
    (
        "618 年中促销",
        "email",
        "12000.00",
        "running",
        [("A 折扣版", "年中特惠：全场九折", 1), ("B 赠品版", "年中特惠：买即赠", 1)],
    ),
    ("春季展会邀约", "event", "20000.00", "done", [("邀请函", "诚邀莅临春季展会", 1)]),
    ("线上广告试投", "ads", "3000.00", "cancelled", []),
]
PATH: dict[str, list[CampaignTransition]] = {
    "draft": [],
    "scheduled": [CampaignAction.SCHEDULE],
    "running": [CampaignAction.SCHEDULE, CampaignAction.START],
    "done": [CampaignAction.SCHEDULE, CampaignAction.START, CampaignAction.FINISH],
    "cancelled": [CampaignAction.CANCEL],
}


async def seed_marketing(session: AsyncSession, settings: Settings, users: dict[str, User]) -> None:
    if await session.scalar(select(Campaign.id).limit(1)) is not None:
        return
    marketer = await demo_principal(session, users["sun.li"])
    # Contacts who gave a mobile number agreed to marketing; the others stay out of audiences.
    demo_contacts = select(Customer.id).where(is_demo_customer())
    await session.execute(
        update(Contact).where(Contact.mobile.is_not(None), Contact.customer_id.in_(demo_contacts)).values(marketing_consent=True)
    )
    segments = {}
    for name, description, filters in DEMO_SEGMENTS:
        segment = await session.scalar(select(Segment).where(Segment.name == name))
        segments[name] = segment or await service.create_segment(
            session, marketer, SegmentCreate(name=name, description=description, filters=filters)
        )
    await service.refresh_rfm(session, settings)
    audience = segments["VIP 客户"]
    members = service.members(session, marketer, audience)
    contacts = list(
        await session.scalars(
            CampaignRepository.audience(members, consent=True).with_only_columns(Contact.id).order_by(Contact.id)
        )
    )
    today = clock.now().date()
    for name, channel, budget, status, variants in DEMO_CAMPAIGNS:
        campaign = await campaigns.create_campaign(
            session,
            marketer,
            CampaignCreate(
                name=name,
                goal="提升复购与新品认知",
                budget=Decimal(budget),
                channel=channel,
                segment_id=audience.id,
                starts_on=today - timedelta(days=30),
                ends_on=today + timedelta(days=30),
            ),
        )
        for variant, subject, weight in variants:
            await campaigns.add_variant(
                session,
                marketer,
                campaign.id,
                VariantCreate(
                    name=variant,
                    subject=subject,
                    body=f"{subject}。详情请见官网。",
                    weight=weight,
                ),
            )
        for action in PATH[status]:
            await campaigns.transition(session, marketer, campaign.id, action)
        if status in TRACKED_STATUSES:
            await _touches(session, settings, marketer, campaign.id, contacts)


async def _touches(session: AsyncSession, settings: Settings, marketer: Principal, campaign_id: int, contacts: list[int]) -> None:
    """Everyone sent, two in three opened, one in three clicked, one in six converted."""
    for index, contact_id in enumerate(contacts):
        kinds = ["sent"] + ["opened"] * (index % 3 != 2) + ["clicked"] * (index % 3 == 0) + ["converted"] * (index % 6 == 0)
        for offset, kind in enumerate(kinds):
            at = clock.now() - timedelta(days=20 - offset)
            await campaigns.record_touch(
                session, marketer, settings, campaign_id, TouchCreate(contact_id=contact_id, kind=kind, at=at)
            )
