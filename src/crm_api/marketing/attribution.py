"""Attribution of completed orders and won opportunities to campaigns, and ROI per campaign and channel."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import start_of_local_day
from crm_api.core.config import Settings
from crm_api.core.errors import InvalidInput
from crm_api.core.types import to_money
from crm_api.marketing.repository import CampaignRepository
from crm_api.marketing.schemas import Attribution, CampaignReturn, ChannelReturn


def roi(revenue: Decimal, budget: Decimal) -> Decimal | None:
    return to_money((revenue - budget) / budget) if budget else None


async def attribute(
    session: AsyncSession, settings: Settings, *, model: str, date_from: date | None, date_to: date | None
) -> Attribution:
    if date_from is not None and date_to is not None and date_to < date_from:
        raise InvalidInput("to", "to is before from", code="attribution.period_reversed")
    tz = settings.time_zone
    rows = await CampaignRepository(session).attribution(
        model,
        date_from=date_from,
        date_to=date_to,
        won_from=start_of_local_day(date_from, tz) if date_from else None,
        won_until=start_of_local_day(date_to + timedelta(days=1), tz) if date_to else None,
    )
    campaigns = []
    by_channel: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for campaign, revenue, conversions in rows:
        revenue = to_money(revenue)
        campaigns.append(
            CampaignReturn(
                campaign_id=campaign.id,
                name=campaign.name,
                channel=campaign.channel,
                budget=campaign.budget,
                attributed_revenue=revenue,
                conversions=conversions,
                roi=roi(revenue, campaign.budget),
            )
        )
        totals = by_channel[campaign.channel]
        totals[0] += campaign.budget
        totals[1] += revenue
    channels = [
        ChannelReturn(channel=channel, budget=budget, attributed_revenue=revenue, roi=roi(revenue, budget))
        for channel, (budget, revenue) in sorted(by_channel.items())
    ]
    return Attribution(model=model, date_from=date_from, date_to=date_to, campaigns=campaigns, channels=channels)
