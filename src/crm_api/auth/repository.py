from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.models.identity import LoginAttempt, RefreshToken, User


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def recent_failures(session: AsyncSession, username: str, *, since: datetime, limit: int) -> list[datetime]:
    """Times of the latest failed logins after `since` and after the last success, newest first."""
    last_success = (
        select(func.max(LoginAttempt.at))
        .where(LoginAttempt.username == username, LoginAttempt.succeeded.is_(True))
        .scalar_subquery()
    )
    statement = (
        select(LoginAttempt.at)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.at > since,
            LoginAttempt.at > func.coalesce(last_success, since),
        )
        .order_by(LoginAttempt.at.desc())
        .limit(limit)
    )
    return list((await session.scalars(statement)).all())


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


async def revoke_family(session: AsyncSession, family_id: str, at: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )


async def revoke_user_tokens(session: AsyncSession, user_id: int, at: datetime) -> None:
    await session.execute(
        update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)).values(revoked_at=at)
    )
