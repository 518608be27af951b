from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, bindparam, case, delete, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.db import one_record
from crm_api.models.identity import LoginThrottle, RefreshToken, Team, TotpRecoveryCode, User, UserTotp


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def user_for_token(session: AsyncSession, user_id: int, *, to_write: bool = False) -> User | None:
    """The user, share-locked until the transaction ends: a concurrent revocation (which updates the row first)
    either commits before this reads it or waits until the tokens this transaction issues exist to be revoked.
    `to_write` locks it for update at once: two share locks that both turn into writes would deadlock."""
    return await session.scalar(select(User).where(User.id == user_id).with_for_update(read=not to_write))


# What a user's own profile shows (`/auth/me`): their columns, their team's id and name, and whether their TOTP second
# factor is on; built once, the user as a named parameter.
_PROFILE = (
    select(
        User.id,
        User.username,
        User.full_name,
        User.email,
        Team.id.label("team_id"),
        Team.name.label("team_name"),
        select(UserTotp.user_id)
        .where(UserTotp.user_id == User.id, UserTotp.enabled_at.is_not(None))
        .exists()
        .label("totp_enabled"),
    )
    .outerjoin(Team, Team.id == User.team_id)
    .where(User.id == bindparam("user_id"))
)


async def profile(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    """The user's profile in one statement, read off the connection as a record."""
    return await one_record(session, _PROFILE, {"user_id": user_id})


async def rehash_password(session: AsyncSession, user_id: int, old_hash: str, new_hash: str) -> None:
    """Store the same password hashed anew, unless the stored hash is no longer `old_hash` (a concurrent sign-in
    rehashed it first, or the password changed). A compare-and-set rather than a versioned ORM write: on SQLite,
    which takes no row lock, concurrent sign-ins read the same version and all but one would fail."""
    await session.execute(update(User).where(User.id == user_id, User.password_hash == old_hash).values(password_hash=new_hash))


async def claim_password_check(
    session: AsyncSession, username: str, *, now: datetime, window_start: datetime, limit: int
) -> datetime | None:
    """Claim one password check for `username` unless its window's failures and running checks already make `limit`
    (a window that began at or before `window_start` is over, and this check opens the next, forgetting the old one's
    counts). One statement, so however many race, at most `limit` are claimed per window. The claimed window's start,
    or None when refused."""
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    expired = LoginThrottle.window_started_at <= window_start
    statement = (
        dialect_insert(LoginThrottle)
        .values(username=username, window_started_at=now, failures=0, checks_in_flight=1)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.username],
            set_={
                "failures": case((expired, 0), else_=LoginThrottle.failures),
                "checks_in_flight": case((expired, 1), else_=LoginThrottle.checks_in_flight + 1),
                "window_started_at": case(
                    (expired, literal(now, LoginThrottle.window_started_at.type)), else_=LoginThrottle.window_started_at
                ),
            },
            where=or_(expired, LoginThrottle.failures + LoginThrottle.checks_in_flight < limit),
        )
        .returning(LoginThrottle.window_started_at)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def login_throttle(session: AsyncSession, username: str) -> LoginThrottle | None:
    return await session.scalar(select(LoginThrottle).where(LoginThrottle.username == username))


CheckOutcome = Literal["failed", "passed", "signed_in"]


async def finish_password_check(
    session: AsyncSession, username: str, *, window_started_at: datetime, outcome: CheckOutcome
) -> None:
    """End a claimed check in one statement: it stops running and, failed, counts as a failure; a sign-in clears the
    failures. A check whose window has ended since belonged to that window, so the next one is left alone."""
    failures = {"failed": LoginThrottle.failures + 1, "passed": LoginThrottle.failures, "signed_in": 0}[outcome]
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.username == username, LoginThrottle.window_started_at == window_started_at)
        .values(failures=failures, checks_in_flight=LoginThrottle.checks_in_flight - 1)
        .execution_options(synchronize_session=False)
    )


async def delete_expired_login_throttles(session: AsyncSession, *, window_start: datetime) -> int:
    result = await session.execute(delete(LoginThrottle).where(LoginThrottle.window_started_at <= window_start))
    return cast("CursorResult[Any]", result).rowcount or 0


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
