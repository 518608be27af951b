from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, update

from crm_api.core.repository import Repository
from crm_api.models.quote import Quote
from crm_api.quotes import policy
from crm_api.quotes.policy import OUTSTANDING, QuoteStatus


class QuoteRepository(Repository[Quote]):
    model = Quote
    visible = staticmethod(policy.visible)

    def filtered(
        self,
        statement: Select[Quote],
        *,
        status: QuoteStatus | None,
        customer_id: int | None,
        opportunity_id: int | None,
        latest_only: bool,
    ) -> Select[Quote]:
        if status:
            statement = statement.where(Quote.status == status)
        if customer_id is not None:
            statement = statement.where(Quote.customer_id == customer_id)
        if opportunity_id is not None:
            statement = statement.where(Quote.opportunity_id == opportunity_id)
        if latest_only:
            statement = statement.where(Quote.superseded_by_id.is_(None))
        return statement

    async def expire_past_validity(self, *, today: date, now: datetime) -> int:
        """One UPDATE: every outstanding, unrevised quote whose last valid day is before today; a second run finds none."""
        result = await self.session.execute(
            update(Quote)
            .where(Quote.status.in_(OUTSTANDING), Quote.valid_until < today, Quote.superseded_by_id.is_(None))
            .values(status=QuoteStatus.EXPIRED, expired_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(cast("CursorResult[Any]", result).rowcount or 0)
