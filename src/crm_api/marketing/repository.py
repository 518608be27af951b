"""Marketing queries: live segment evaluation, the RFM refresh, audiences, performance and attribution, set-based."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import selectinload

from crm_api.core.pagination import PageParams, Rows, Sort, paginate
from crm_api.core.permissions import Principal
from crm_api.core.repository import Repository
from crm_api.customers import policy as customer_policy
from crm_api.marketing.policy import TRACKED_STATUSES
from crm_api.marketing.schemas import SCORES, SegmentFilters
from crm_api.models.customer import Contact, Customer
from crm_api.models.marketing import Campaign, CampaignTouch, CampaignVariant, CustomerRfm, Segment
from crm_api.models.pipeline import Opportunity
from crm_api.models.sales import COMPLETED_ORDER_STATUSES, Order
from crm_api.opportunities.policy import OpportunityStatus


class SegmentRepository(Repository[Segment]):
    model = Segment

    @staticmethod
    def members(principal: Principal, permission: str, filters: SegmentFilters) -> Select[Customer]:
        """The live customers visible under `permission` the segment holds: the customer list's filters (the customers'
        policy), then RFM and last order."""
        statement = select(Customer).where(
            Customer.deleted_at.is_(None),
            customer_policy.visible(principal, permission),
            *customer_policy.matching(filters),
        )
        ranges = [
            (getattr(CustomerRfm, f"{score}_score"), getattr(filters, f"{score}_min"), getattr(filters, f"{score}_max"))
            for score in SCORES
        ]
        if any(low is not None or high is not None for _, low, high in ranges):
            statement = statement.join(CustomerRfm, CustomerRfm.customer_id == Customer.id)
            for column, low, high in ranges:
                if low is not None:
                    statement = statement.where(column >= low)
                if high is not None:
                    statement = statement.where(column <= high)
        if filters.last_order_before is not None or filters.last_order_after is not None:
            last_order = (
                select(func.max(Order.order_date))
                .where(Order.customer_id == Customer.id, Order.status.in_(COMPLETED_ORDER_STATUSES))
                .scalar_subquery()
            )
            if filters.last_order_before is not None:
                statement = statement.where(last_order < filters.last_order_before)
            if filters.last_order_after is not None:
                statement = statement.where(last_order > filters.last_order_after)
        return statement

    async def page_members(self, members: Select[Customer], params: PageParams) -> Rows:
        """A page of the members, newest first (as the customer list), with their tags (one more query)."""
        return await paginate(self.session, members.options(selectinload(Customer.tags)), params, Sort([Customer.id]))

    async def count(self, statement: Select[Any]) -> int:
        return await self.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0

    async def refresh_rfm(self, *, since: date, now: datetime) -> int:
        """Replace every score in one DELETE and one INSERT … SELECT: NTILE(5) over the last 12 months' completed
        orders of live customers (ties broken by customer id, so a refresh is repeatable)."""
        totals = (
            select(
                Order.customer_id,
                func.max(Order.order_date).label("last_order_date"),
                func.count(Order.id).label("order_count"),
                func.sum(Order.total).label("order_total"),
            )
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.status.in_(COMPLETED_ORDER_STATUSES), Order.order_date >= since, Customer.deleted_at.is_(None))
            .group_by(Order.customer_id)
            .subquery("totals")
        )

        def quintile(column: Any) -> Any:
            return func.ntile(5).over(order_by=(column.asc(), totals.c.customer_id.asc()))

        scored = select(
            totals.c.customer_id,
            quintile(totals.c.last_order_date),
            quintile(totals.c.order_count),
            quintile(totals.c.order_total),
            totals.c.last_order_date,
            totals.c.order_count,
            totals.c.order_total,
            literal(now, CustomerRfm.computed_at.type),
        )
        await self.session.execute(delete(CustomerRfm))
        columns = [
            "customer_id",
            "recency_score",
            "frequency_score",
            "monetary_score",
            "last_order_date",
            "order_count",
            "order_total",
            "computed_at",
        ]
        result = await self.session.execute(insert(CustomerRfm).from_select(columns, scored))
        assert isinstance(result, CursorResult)
        return result.rowcount


class CampaignRepository(Repository[Campaign]):
    model = Campaign

    async def uses_segment(self, segment_id: int) -> bool:
        return await self.session.scalar(select(Campaign.id).where(Campaign.segment_id == segment_id).limit(1)) is not None

    async def variants(self, campaign_ids: list[int]) -> dict[int, list[CampaignVariant]]:
        rows = await self.session.scalars(
            select(CampaignVariant).where(CampaignVariant.campaign_id.in_(campaign_ids)).order_by(CampaignVariant.id)
        )
        variants: dict[int, list[CampaignVariant]] = {campaign_id: [] for campaign_id in campaign_ids}
        for variant in rows:
            variants[variant.campaign_id].append(variant)
        return variants

    @staticmethod
    def audience(customers: Select[Customer], *, consent: bool) -> Select[Contact]:
        """Contacts of the segment's customers with (or without) marketing consent."""
        member_ids = customers.with_only_columns(Customer.id).order_by(None)
        return select(Contact).where(Contact.customer_id.in_(member_ids), Contact.marketing_consent.is_(consent))

    async def touch(self, campaign_id: int, contact_id: int, kind: str) -> CampaignTouch | None:
        return await self.session.scalar(
            select(CampaignTouch).where(
                CampaignTouch.campaign_id == campaign_id, CampaignTouch.contact_id == contact_id, CampaignTouch.kind == kind
            )
        )

    async def has_variant_named(self, campaign_id: int, name: str) -> bool:
        found = await self.session.scalar(
            select(CampaignVariant.id).where(CampaignVariant.campaign_id == campaign_id, CampaignVariant.name == name)
        )
        return found is not None

    async def touch_totals(self, campaign_id: int) -> dict[str, int]:
        """Distinct contacts per kind over the whole campaign."""
        rows = await self.session.execute(
            select(CampaignTouch.kind, func.count(func.distinct(CampaignTouch.contact_id)))
            .where(CampaignTouch.campaign_id == campaign_id)
            .group_by(CampaignTouch.kind)
        )
        return dict(rows.all())

    async def touch_counts(self, campaign_id: int) -> list[tuple[int | None, str, int]]:
        """Distinct contacts per variant and kind."""
        rows = await self.session.execute(
            select(CampaignTouch.variant_id, CampaignTouch.kind, func.count(func.distinct(CampaignTouch.contact_id)))
            .where(CampaignTouch.campaign_id == campaign_id)
            .group_by(CampaignTouch.variant_id, CampaignTouch.kind)
        )
        return [(variant_id, kind, count) for variant_id, kind, count in rows]

    async def attribution(
        self,
        model: str,
        *,
        date_from: date | None,
        date_to: date | None,
        won_from: datetime | None,
        won_until: datetime | None,
    ) -> list[tuple[Campaign, Any, int]]:
        """Per running or finished campaign: revenue credited by `model` and the conversions credited.

        Revenue events are completed orders (on their date) and won opportunities with a customer (at their close
        time). A campaign may be credited with an event when one of its touches reached a contact of the event's
        customer on or before the order date / before the win."""
        orders = select(
            literal("order").label("source"),
            Order.id.label("event_id"),
            Order.customer_id,
            Order.total.label("amount"),
            Order.order_date.label("event_on"),
            null().label("event_at"),
        ).where(Order.status.in_(COMPLETED_ORDER_STATUSES))
        if date_from is not None:
            orders = orders.where(Order.order_date >= date_from)
        if date_to is not None:
            orders = orders.where(Order.order_date <= date_to)
        wins = select(
            literal("opportunity").label("source"),
            Opportunity.id.label("event_id"),
            Opportunity.customer_id,
            Opportunity.expected_amount.label("amount"),
            null().label("event_on"),
            Opportunity.closed_at.label("event_at"),
        ).where(
            Opportunity.status == OpportunityStatus.WON,
            Opportunity.customer_id.is_not(None),
            Opportunity.expected_amount.is_not(None),
        )
        if won_from is not None:
            wins = wins.where(Opportunity.closed_at >= won_from)
        if won_until is not None:
            wins = wins.where(Opportunity.closed_at < won_until)
        events = union_all(orders, wins).subquery("events")

        reached_before: ColumnElement[bool] = or_(
            and_(events.c.event_on.is_not(None), CampaignTouch.occurred_on <= events.c.event_on),
            and_(events.c.event_at.is_not(None), CampaignTouch.occurred_at < events.c.event_at),
        )
        # One row per (event, campaign that reached the customer first): its first and last touch before the event.
        credited = (
            select(
                events.c.source,
                events.c.event_id,
                events.c.amount,
                CampaignTouch.campaign_id,
                func.min(CampaignTouch.occurred_at).label("first_at"),
                func.max(CampaignTouch.occurred_at).label("last_at"),
            )
            .join(Contact, Contact.customer_id == events.c.customer_id)
            .join(CampaignTouch, and_(CampaignTouch.contact_id == Contact.id, reached_before))
            .group_by(events.c.source, events.c.event_id, events.c.amount, CampaignTouch.campaign_id)
            .subquery("credited")
        )
        per_event = (credited.c.source, credited.c.event_id)
        if model == "linear":
            # 1.0 first: SQLite would divide integer amounts as integers.
            share = credited.c.amount * literal_column("1.0") / func.count().over(partition_by=per_event)
            shares = select(credited.c.campaign_id, share.label("share"))
        else:
            order = (
                (credited.c.first_at.asc(), credited.c.campaign_id.asc())
                if model == "first_touch"
                else (credited.c.last_at.desc(), credited.c.campaign_id.desc())
            )
            ranked = select(
                credited.c.campaign_id,
                credited.c.amount,
                func.row_number().over(partition_by=per_event, order_by=order).label("rank"),
            ).subquery("ranked")
            shares = select(ranked.c.campaign_id, ranked.c.amount.label("share")).where(ranked.c.rank == 1)
        credits = shares.subquery("credits")
        per_campaign = (
            select(credits.c.campaign_id, func.sum(credits.c.share).label("revenue"), func.count().label("conversions"))
            .group_by(credits.c.campaign_id)
            .subquery("per_campaign")
        )
        rows = await self.session.execute(
            select(Campaign, func.coalesce(per_campaign.c.revenue, 0), func.coalesce(per_campaign.c.conversions, 0))
            .outerjoin(per_campaign, per_campaign.c.campaign_id == Campaign.id)
            .where(Campaign.status.in_(TRACKED_STATUSES))
            .order_by(Campaign.id)
        )
        return [(campaign, revenue, conversions) for campaign, revenue, conversions in rows]
