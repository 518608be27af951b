"""Sign-in (with the second factor when on), refresh-token rotation with reuse detection, and login throttling."""

import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth import repository, totp
from crm_api.auth.principal import principals_changed
from crm_api.auth.schemas import Me, TeamRef, TokenPair
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.core.errors import RateLimited, Unauthorized
from crm_api.core.permissions import Principal
from crm_api.core.security import PasswordChecks, create_access_token, fingerprint, new_secret
from crm_api.models.identity import LoginAttempt, RefreshToken, User


def normalize_username(username: str) -> str:
    return username.strip().lower()


async def _claim_password_check(database: Database, settings: Settings, username: str) -> datetime:
    """Claim a password check for `username` (the start of the window it counts in), or refuse it: 429
    auth.too_many_attempts once the window's failures reach the limit, else auth.busy while checks are running."""
    now = clock.now()
    window = timedelta(minutes=settings.login_lockout_minutes)
    async with database.reader() as reader:
        claimed = await repository.claim_password_check(
            reader, username, now=now, window_start=now - window, limit=settings.login_max_failures
        )
        if claimed is not None:
            return claimed
        throttle = await repository.login_throttle(reader, username)
    if throttle is None or throttle.failures < settings.login_max_failures or throttle.window_started_at <= now - window:
        raise RateLimited("Other sign-ins of this username are being checked; try again shortly", retry_after=1, code="auth.busy")
    # Clamped: a racer that read the clock before the window's opener would count from before it began.
    remaining = min(throttle.window_started_at + window - now, window)
    raise RateLimited(
        "Too many failed sign-ins; try again later",
        retry_after=max(1, math.ceil(remaining.total_seconds())),
        code="auth.too_many_attempts",
    )


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


def _wrong_credentials() -> Unauthorized:
    return Unauthorized("Wrong username or password", code="auth.invalid_credentials")


def _password_changed(checked: User, current: User) -> bool:
    """Whether the password checked stopped being the user's since it was read. Every password change revokes the
    user's tokens; a new hash without that is a concurrent sign-in's rehash of the same password."""
    return current.password_hash != checked.password_hash and current.tokens_valid_after != checked.tokens_valid_after


@dataclass
class _Claim:
    """A claimed password check, and what it ends as if the sign-in stops here."""

    username: str
    window_started_at: datetime
    outcome: repository.CheckOutcome = "passed"  # nothing evaluated yet


@asynccontextmanager
async def _ended_on_error(claim: _Claim, session: AsyncSession, database: Database, client_ip: str | None) -> AsyncIterator[None]:
    """On any error, end the claim in a transaction of its own, as the error rolls the request's back; that one is
    ended first, so the request never holds one connection while waiting for a second. Shielded: a cancelled request
    (shutdown, a client gone) still ends its claim."""
    try:
        yield
    except BaseException:
        with anyio.CancelScope(shield=True):
            await session.rollback()
            async with database.sessionmaker() as apart, apart.begin():
                await repository.finish_password_check(
                    apart, claim.username, window_started_at=claim.window_started_at, outcome=claim.outcome
                )
                if claim.outcome == "failed":
                    apart.add(LoginAttempt(username=claim.username, succeeded=False, client_ip=client_ip, at=clock.now()))
        raise


async def login(
    session: AsyncSession,
    database: Database,
    checks: PasswordChecks,
    settings: Settings,
    *,
    username: str,
    password: str,
    otp: str | None = None,
    client_ip: str | None,
) -> TokenPair:
    """Wait for a turn to check (touching no database, so a busy answer costs it nothing), claim the check and read
    the user in autocommit statements, check the password holding no connection, then write the outcome. The claim
    ends as a failure when the credentials are wrong (or the check was cut short), is given back when the password
    was right, and clears the failures with the sign-in."""
    username = normalize_username(username)
    async with checks.slot(), checks.turn():
        claim = _Claim(username, await _claim_password_check(database, settings, username))
        async with _ended_on_error(claim, session, database, client_ip):
            async with database.reader() as reader:
                user = await repository.user_by_username(reader, username)
                if user is not None and not user.active:
                    user = None
                second_factor = await totp.active_totp(reader, user.id) if user is not None else None
            claim.outcome = "failed"  # from here a guess is evaluated: cut short, it counts as one
            matched, rehashed = await checks.verify(password, user.password_hash if user is not None else None)
    async with _ended_on_error(claim, session, database, client_ip):
        if not matched or user is None:
            raise _wrong_credentials()
        claim.outcome = "passed"
        if second_factor is not None and not otp:
            # Not a failure: the client asks for the code and signs in again with it.
            raise Unauthorized("Enter the code of your authenticator app or a recovery code", code="auth.otp_required")
        current = await repository.user_for_token(session, user.id, to_write=rehashed is not None)
        if current is None or not current.active or _password_changed(user, current):
            claim.outcome = "failed"
            raise _wrong_credentials()
        if second_factor is not None and otp and not await totp.spend_code(session, second_factor, otp):
            claim.outcome = "failed"
            raise Unauthorized("The code is wrong, expired or already used", code="auth.invalid_otp")
        if rehashed is not None and user.password_hash is not None:
            await repository.rehash_password(session, user.id, user.password_hash, rehashed)
        session.add(LoginAttempt(username=username, succeeded=True, client_ip=client_ip, at=clock.now()))
        await repository.finish_password_check(session, username, window_started_at=claim.window_started_at, outcome="signed_in")
        return await _issue_tokens(session, settings, user.id, uuid.uuid4().hex)


async def refresh(session: AsyncSession, database: Database, settings: Settings, *, refresh_token: str) -> TokenPair:
    token = await repository.refresh_token_by_hash(session, fingerprint(refresh_token))
    if token is None:
        raise Unauthorized("The refresh token is invalid or expired", code="auth.invalid_refresh_token")
    user = await repository.user_for_token(session, token.user_id)
    if user is None or not user.active:
        raise Unauthorized("The account is disabled", code="auth.invalid_refresh_token")
    now = clock.now()
    if await repository.spend_refresh_token(session, token.id, now):
        return await _issue_tokens(session, settings, user.id, token.family_id)
    await session.refresh(token)  # what made it fail, as committed by whoever won
    if token.used_at is None:
        raise Unauthorized("The refresh token is invalid, expired or revoked", code="auth.invalid_refresh_token")
    if now - token.used_at < timedelta(seconds=settings.refresh_reuse_grace_seconds):
        raise Unauthorized("The refresh token was just exchanged", code="auth.invalid_refresh_token")
    # A rotated token came back: whoever holds the family may be an attacker, so end it. The request's own
    # transaction is ended first, so this never holds one connection while waiting for another.
    family_id = token.family_id
    await session.rollback()
    async with database.sessionmaker() as revocation, revocation.begin():
        await repository.revoke_family(revocation, family_id, now)
    raise Unauthorized("The refresh token was already used; the session is revoked", code="auth.refresh_token_reused")


async def revoke_sessions(session: AsyncSession, user: User) -> None:
    """Refuse every token `user` holds: access tokens by their issue time, refresh tokens outright. The user row is
    written first, so a rotation in flight (which share-locks it) either commits before, and its new token is
    revoked here, or waits and then finds the revocation."""
    now = clock.now()
    user.tokens_valid_after = now
    await session.flush()
    await repository.revoke_user_tokens(session, user.id, now)
    await principals_changed(session, user.id)  # open streams end when this commits, and every worker forgets the user


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    """Ends the session the refresh token belongs to; unknown tokens are ignored."""
    token = await repository.refresh_token_by_hash(session, fingerprint(refresh_token))
    if token is not None:
        await repository.revoke_family(session, token.family_id, clock.now())


async def me(session: AsyncSession, principal: Principal) -> Me:
    if principal.user_id is None:
        raise Unauthorized("API keys have no user profile", code="auth.not_a_user")
    # The principal was resolved for this request, so the user exists and is active.
    found = await repository.profile(session, principal.user_id)
    assert found is not None
    team = TeamRef(id=found["team_id"], name=found["team_name"]) if found["team_id"] is not None else None
    return Me(
        id=found["id"],
        username=found["username"],
        full_name=found["full_name"],
        email=found["email"],
        team=team,
        roles=list(principal.roles),
        permissions=principal.permissions,
        totp_enabled=found["totp_enabled"],
    )
