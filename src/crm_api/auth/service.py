"""Sign-in (with the second factor when on), refresh-token rotation with reuse detection, and login throttling."""

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth import repository, totp
from crm_api.auth.schemas import Me, TeamRef, TokenPair
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.core.errors import RateLimited, Unauthorized
from crm_api.core.permissions import Principal
from crm_api.core.security import create_access_token, fingerprint, new_secret, verify_password
from crm_api.models.identity import LoginAttempt, RefreshToken, Team, User


def normalize_username(username: str) -> str:
    return username.strip().lower()


# Argon2 is slow and takes 64 MiB per check by design: off the event loop so other requests keep flowing,
# one at a time per process so memory stays bounded (it is CPU-bound, so more at once would not be faster).
_password_checks = asyncio.Semaphore(1)


async def _verify_off_loop(password: str, hashed: str | None) -> bool:
    async with _password_checks:
        return await asyncio.to_thread(verify_password, password, hashed)


async def _seconds_locked(session: AsyncSession, settings: Settings, username: str) -> int:
    """Seconds until `username` may try again; 0 when it is not locked."""
    now = clock.now()
    window = timedelta(minutes=settings.login_lockout_minutes)
    # Failures are not recorded while locked, so the newest of the last N is the one that locked it.
    failures = await repository.recent_failures(session, username, since=now - 2 * window, limit=settings.login_max_failures)
    if len(failures) < settings.login_max_failures or failures[0] - failures[-1] > window:
        return 0
    remaining = failures[0] + window - now
    return max(0, int(remaining.total_seconds()) + 1) if remaining > timedelta(0) else 0


async def _issue_tokens(session: AsyncSession, settings: Settings, user_id: int, family_id: str) -> TokenPair:
    access_token, expires_in = create_access_token(settings, user_id=user_id)
    refresh_token = new_secret("rt")
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=fingerprint(refresh_token),
            expires_at=clock.now() + timedelta(days=settings.refresh_token_days),
        )
    )
    await session.flush()
    return TokenPair(access_token=access_token, refresh_token=refresh_token, expires_in=expires_in)


async def login(
    session: AsyncSession,
    database: Database,
    settings: Settings,
    *,
    username: str,
    password: str,
    otp: str | None = None,
    client_ip: str | None,
) -> TokenPair:
    username = normalize_username(username)
    locked_for = await _seconds_locked(session, settings, username)
    if locked_for:
        raise RateLimited("Too many failed sign-ins; try again later", retry_after=locked_for, code="auth.too_many_attempts")
    user = await repository.user_by_username(session, username)
    known = user is not None and user.active
    succeeded = await _verify_off_loop(password, user.password_hash if known else None)
    second_factor = await totp.active_totp(session, user.id) if succeeded and user is not None else None
    if second_factor is not None and not otp:
        # Not a failure: the client asks for the code and signs in again with it.
        raise Unauthorized("Enter the code of your authenticator app or a recovery code", code="auth.otp_required")
    # The attempt must be counted even though a failure rolls this request back; the code is spent there too.
    async with database.sessionmaker() as attempts, attempts.begin():
        if second_factor is not None and otp:
            succeeded = await totp.spend_code(attempts, second_factor, otp)
        attempts.add(LoginAttempt(username=username, succeeded=succeeded, client_ip=client_ip, at=clock.now()))
    if second_factor is not None and not succeeded:
        raise Unauthorized("The code is wrong, expired or already used", code="auth.invalid_otp")
    if not succeeded or user is None:
        raise Unauthorized("Wrong username or password", code="auth.invalid_credentials")
    return await _issue_tokens(session, settings, user.id, uuid.uuid4().hex)


async def refresh(session: AsyncSession, database: Database, settings: Settings, *, refresh_token: str) -> TokenPair:
    token = await repository.refresh_token_by_hash(session, fingerprint(refresh_token))
    now = clock.now()
    if token is None or token.expires_at <= now:
        raise Unauthorized("The refresh token is invalid or expired", code="auth.invalid_refresh_token")
    if token.used_at is not None:
        # A rotated token came back: whoever holds the family may be an attacker, so end it.
        # Written outside the request's transaction, which the 401 rolls back.
        async with database.sessionmaker() as revocation, revocation.begin():
            await repository.revoke_family(revocation, token.family_id, now)
        raise Unauthorized("The refresh token was already used; the session is revoked", code="auth.refresh_token_reused")
    if token.revoked_at is not None:
        raise Unauthorized("The refresh token has been revoked", code="auth.invalid_refresh_token")
    user = await session.get(User, token.user_id)
    if user is None or not user.active:
        raise Unauthorized("The account is disabled", code="auth.invalid_refresh_token")
    token.used_at = now
    return await _issue_tokens(session, settings, user.id, token.family_id)


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    """Ends the session the refresh token belongs to; unknown tokens are ignored."""
    token = await repository.refresh_token_by_hash(session, fingerprint(refresh_token))
    if token is not None:
        await repository.revoke_family(session, token.family_id, clock.now())


async def sign_out_everywhere(session: AsyncSession, *, user_id: int, at: datetime) -> None:
    """Revoke every refresh token of the user (a disabled account keeps no session)."""
    await repository.revoke_user_tokens(session, user_id, at)


async def me(session: AsyncSession, principal: Principal) -> Me:
    if principal.user_id is None:
        raise Unauthorized("API keys have no user profile", code="auth.not_a_user")
    # The principal was resolved for this request, so the user exists and is active.
    user = await session.get(User, principal.user_id)
    assert user is not None
    team = await session.get(Team, user.team_id) if user.team_id is not None else None
    return Me(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        team=TeamRef.model_validate(team) if team else None,
        roles=list(principal.roles),
        permissions=principal.permissions,
        totp_enabled=await totp.active_totp(session, user.id) is not None,
    )
