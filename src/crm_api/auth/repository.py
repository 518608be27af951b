from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, case, delete, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.models.identity import LoginThrottle, RefreshToken, TotpRecoveryCode, User, UserTotp


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def user_for_token(session: AsyncSession, user_id: int) -> User | None:
    """The user, share-locked until the transaction ends: a concurrent revocation (which updates the row first)
    either commits before this reads it or waits until the tokens this transaction issues exist to be revoked."""
    return await session.scalar(select(User).where(User.id == user_id).with_for_update(read=True))


async def claim_login_attempt(session: AsyncSession, username: str, *, now: datetime, window_start: datetime, limit: int) -> bool:
    """Count one attempt for `username` unless `limit` were counted since its window began (a window that began at
    or before `window_start` is over, and this attempt opens the next). One statement, so however many race, at most
    `limit` pass per window."""
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    expired = LoginThrottle.window_started_at <= window_start
    statement = (
        dialect_insert(LoginThrottle)
        .values(username=username, window_started_at=now, attempts=1)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.username],
            set_={
                "attempts": case((expired, 1), else_=LoginThrottle.attempts + 1),
                "window_started_at": case(
                    (expired, literal(now, LoginThrottle.window_started_at.type)), else_=LoginThrottle.window_started_at
                ),
            },
            where=or_(expired, LoginThrottle.attempts < limit),
        )
        .returning(LoginThrottle.username)
    )
    return (await session.execute(statement)).first() is not None


async def login_window_start(session: AsyncSession, username: str) -> datetime | None:
    return await session.scalar(select(LoginThrottle.window_started_at).where(LoginThrottle.username == username))


async def release_login_attempt(session: AsyncSession, username: str) -> None:
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.username == username, LoginThrottle.attempts > 0)
        .values(attempts=LoginThrottle.attempts - 1)
    )


async def reset_login_attempts(session: AsyncSession, username: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


async def spend_refresh_token(session: AsyncSession, token_id: int, at: datetime) -> bool:
    """Mark the token used if it is still live: of concurrent rotations of one token, exactly one matches."""
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == token_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > at,
        )
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(cast("CursorResult[Any]", result).rowcount)


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
    return bool(cast("CursorResult[Any]", result).rowcount)


async def use_recovery_code(session: AsyncSession, user_id: int, code_hash: str, at: datetime) -> bool:
    """Spend an unused recovery code; False if there is none with this hash."""
    result = await session.execute(
        update(TotpRecoveryCode)
        .where(TotpRecoveryCode.user_id == user_id, TotpRecoveryCode.code_hash == code_hash, TotpRecoveryCode.used_at.is_(None))
        .values(used_at=at)
    )
    return bool(cast("CursorResult[Any]", result).rowcount)


async def remove_totp(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(TotpRecoveryCode).where(TotpRecoveryCode.user_id == user_id))
    await session.execute(delete(UserTotp).where(UserTotp.user_id == user_id))


async def add_recovery_codes(session: AsyncSession, user_id: int, code_hashes: list[str]) -> None:
    await session.execute(delete(TotpRecoveryCode).where(TotpRecoveryCode.user_id == user_id))
    session.add_all(TotpRecoveryCode(user_id=user_id, code_hash=code_hash) for code_hash in code_hashes)
    await session.flush()
