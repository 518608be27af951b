from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.models.identity import LoginAttempt, RefreshToken, TotpRecoveryCode, User, UserTotp


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
        update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)).values(revoked_at=at)
    )


async def revoke_user_tokens(session: AsyncSession, user_id: int, at: datetime) -> None:
    await session.execute(
        update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)).values(revoked_at=at)
    )


async def claim_totp_step(session: AsyncSession, user_id: int, step: int) -> bool:
    """Record `step` as used unless it, or a later one, already was: one statement, so two racing sign-ins cannot
    both spend the same code."""
    result = await session.execute(
        update(UserTotp)
        .where(UserTotp.user_id == user_id, or_(UserTotp.last_used_step.is_(None), UserTotp.last_used_step < step))
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def use_recovery_code(session: AsyncSession, user_id: int, code_hash: str, at: datetime) -> bool:
    """Spend an unused recovery code; False if there is none with this hash."""
    result = await session.execute(
        update(TotpRecoveryCode)
        .where(TotpRecoveryCode.user_id == user_id, TotpRecoveryCode.code_hash == code_hash, TotpRecoveryCode.used_at.is_(None))
        .values(used_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove_totp(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(TotpRecoveryCode).where(TotpRecoveryCode.user_id == user_id))
    await session.execute(delete(UserTotp).where(UserTotp.user_id == user_id))


async def add_recovery_codes(session: AsyncSession, user_id: int, code_hashes: list[str]) -> None:
    await session.execute(delete(TotpRecoveryCode).where(TotpRecoveryCode.user_id == user_id))
    session.add_all(TotpRecoveryCode(user_id=user_id, code_hash=code_hash) for code_hash in code_hashes)
    await session.flush()
