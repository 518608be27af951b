"""The daily expiry: approved and sent quotes past their last valid day become expired."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job
from crm_api.quotes import service


@register_job("quote_expiry", cron=lambda s: s.quote_expiry_cron)
async def expire_quotes(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    return {"quotes_expired": await service.expire(session, settings)}
