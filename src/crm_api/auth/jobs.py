"""The hourly sweep of login throttles whose lockout window has ended (a spray of usernames leaves one row each)."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth import repository
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job

LOGIN_THROTTLE_CLEANUP = "login_throttle_cleanup"


@register_job(LOGIN_THROTTLE_CLEANUP, cron=lambda settings: "7 * * * *")
async def forget_ended_lockouts(session: AsyncSession, settings: Settings) -> dict[str, int]:
    """An ended window locks nothing and its next sign-in starts a new one, so its row can go."""
    window_start = clock.now() - timedelta(minutes=settings.login_lockout_minutes)
    return {"deleted": await repository.delete_expired_login_throttles(session, window_start=window_start)}
