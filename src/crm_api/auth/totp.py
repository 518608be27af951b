"""The optional TOTP second factor (RFC 6238): setup, enabling with recovery codes, disabling, an admin's reset,
and the check sign-in makes."""

import base64
import hmac
import re
import secrets

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth import repository
from crm_api.auth.schemas import TotpSetup
from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from crm_api.core.permissions import Principal
from crm_api.core.security import PasswordChecks, fingerprint
from crm_api.models.identity import User, UserTotp

ISSUER = "CRM"
RECOVERY_CODE_COUNT = 10
SIX_DIGITS = re.compile(r"^\d{6}$")


def _signed_in_user_id(principal: Principal) -> int:
    if principal.user_id is None:
        raise Unauthorized("API keys have no second factor", code="auth.not_a_user")
    return principal.user_id


def _fresh_step(secret: str, code: str, last_used_step: int | None) -> int | None:
    """The time step `code` belongs to, allowing one step of clock drift either way, if not used already."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(clock.now())
    for step in (current - 1, current, current + 1):
        if (last_used_step is None or step > last_used_step) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _recovery_hash(code: str) -> str:
    return fingerprint(code.strip().lower().replace("-", "").replace(" ", ""))


def _new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 80 bits, 16 characters
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


async def active_totp(session: AsyncSession, user_id: int) -> UserTotp | None:
    totp = await session.get(UserTotp, user_id)
    return totp if totp is not None and totp.enabled_at is not None else None


async def spend_code(session: AsyncSession, totp: UserTotp, code: str) -> bool:
    """True if `code` is a current TOTP code not used before or an unused recovery code; either is used up."""
    code = code.strip()
    if SIX_DIGITS.match(code):
        step = _fresh_step(totp.secret, code, totp.last_used_step)
        return step is not None and await repository.claim_totp_step(session, totp.user_id, step)
    return await repository.use_recovery_code(session, totp.user_id, _recovery_hash(code), clock.now())


async def _audit(session: AsyncSession, actor: Principal, user: User, action: str, *, enabled: bool) -> None:
    # Only the on/off state: the secret and the recovery codes never reach the audit trail.
    await audit.record_switch(
        session, actor=actor, entity_type="user", entity=user, action=action, switch="totp_enabled", on=enabled
    )


async def setup(session: AsyncSession, principal: Principal) -> TotpSetup:
    """A new secret for the caller, pending until enabled with a code; replaces an earlier pending one."""
    user_id = _signed_in_user_id(principal)
    user = await session.get(User, user_id)
    assert user is not None  # the principal was resolved from it
    totp = await session.get(UserTotp, user_id)
    if totp is not None and totp.enabled_at is not None:
        raise Conflict("The second factor is already enabled; disable it first", code="auth.totp_already_enabled")
    secret = pyotp.random_base32()
    if totp is None:
        session.add(UserTotp(user_id=user_id, secret=secret))
    else:
        totp.secret, totp.created_at, totp.last_used_step = secret, clock.now(), None
    await session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return TotpSetup(secret=secret, provisioning_uri=uri)


async def enable(session: AsyncSession, principal: Principal, *, code: str) -> list[str]:
    """Activate the pending secret once a code from it checks out; the recovery codes are returned this once."""
    user_id = _signed_in_user_id(principal)
    user = await session.get(User, user_id)
    assert user is not None  # the principal was resolved from it
    totp = await session.get(UserTotp, user_id)
    if totp is None:
        raise Conflict("Set up the second factor first", code="auth.totp_not_set_up")
    if totp.enabled_at is not None:
        raise Conflict("The second factor is already enabled", code="auth.totp_already_enabled")
    if not await spend_code(session, totp, code):
        raise InvalidInput("code", "The code is wrong or expired", code="auth.invalid_otp")
    totp.enabled_at = clock.now()
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    await repository.add_recovery_codes(session, user_id, [_recovery_hash(c) for c in codes])
    await _audit(session, principal, user, "totp_enable", enabled=True)
    return codes


async def disable(session: AsyncSession, checks: PasswordChecks, principal: Principal, *, password: str, code: str) -> None:
    """Turn the second factor off: the password and a current code (or a recovery code) are both needed."""
    user_id = _signed_in_user_id(principal)
    user = await session.get(User, user_id)
    assert user is not None
    totp = await active_totp(session, user_id)
    if totp is None:
        raise Conflict("The second factor is not enabled", code="auth.totp_not_enabled")
    async with checks.slot(), checks.turn():
        password_ok, _ = await checks.verify(password, user.password_hash)
    if not password_ok:
        raise InvalidInput("password", "The password is wrong", code="auth.invalid_password")
    if not await spend_code(session, totp, code):
        raise InvalidInput("code", "The code is wrong or expired", code="auth.invalid_otp")
    await repository.remove_totp(session, user_id)
    await _audit(session, principal, user, "totp_disable", enabled=False)


async def reset(session: AsyncSession, actor: Principal, *, user_id: int) -> None:
    """An admin removes a user's second factor (a lost phone); the user may set up a new one."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("User", user_id)
    if await session.get(UserTotp, user_id) is None:
        raise Conflict("The user has no second factor", code="auth.totp_not_enabled")
    await repository.remove_totp(session, user_id)
    await _audit(session, actor, user, "totp_reset", enabled=False)
