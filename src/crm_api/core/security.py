"""Password hashing, JWT access tokens, opaque refresh tokens and API key secrets."""

import asyncio
import contextlib
import functools
import hashlib
import os
import secrets
import threading
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import jwt
from jwt.types import Options
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.errors import RateLimited

JWT_ALGORITHM = "HS256"

# OWASP's first Argon2id choice (19 MiB, two passes, one lane); hashes made with other parameters still verify.
password_hash = PasswordHash((Argon2Hasher(memory_cost=19 * 1024, time_cost=2, parallelism=1),))
# 0 is normal, 19 the lowest: a check waits while the CPU has requests to serve, and runs in the time they leave.
PASSWORD_CHECK_NICE = 10
# Verified against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = password_hash.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return password_hash.hash(password)


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Whether the password matches, and when it does and `hashed` was made with other parameters than today's, the
    password hashed anew (one Argon2 check either way; the rehash only after a match)."""
    if hashed is None:
        password_hash.verify(password, _DUMMY_HASH)
        return False, None
    return password_hash.verify_and_update(password, hashed)


def _lower_priority() -> None:
    """Runs in each password-check thread: Linux gives every thread its own nice value, so a storm of sign-ins takes
    the CPU the requests of everyone already signed in leave over, rather than slowing them down."""
    with contextlib.suppress(OSError, AttributeError):  # elsewhere the check runs at normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PASSWORD_CHECK_NICE)


async def verify_off_loop(password: str, hashed: str | None, threads: Executor) -> tuple[bool, str | None]:
    return await asyncio.get_running_loop().run_in_executor(threads, verify_password, password, hashed)


class PasswordChecks:
    """A worker's queue of password checks: `concurrency` run at once, in threads of their own at a low priority; `queue`
    more callers may wait in line, each up to `wait_seconds`; any other is turned away at once (429) rather than pile
    up behind them, so every sign-in is answered within about `wait_seconds` and one check."""

    def __init__(self, *, concurrency: int, queue: int, wait_seconds: float) -> None:
        self._running = asyncio.Semaphore(concurrency)
        self._capacity = concurrency + queue
        self._admitted = 0
        self._wait_seconds = wait_seconds
        # Never shut down: the process's exit ends its idle threads, and an app may be started again (tests do).
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix="password-check", initializer=_lower_priority)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A place in line for the checks made inside the block."""
        if self._admitted >= self._capacity:
            raise _busy()
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Within a slot: the turn to check, once one is free within `wait_seconds`, else 429."""
        try:
            await asyncio.wait_for(self._running.acquire(), self._wait_seconds)
        except TimeoutError:
            raise _busy() from None
        try:
            yield
        finally:
            self._running.release()

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """Within a turn: checks; see verify_password."""
        return await verify_off_loop(password, hashed, self._threads)


def _busy() -> RateLimited:
    return RateLimited("Too many sign-ins at once; try again shortly", retry_after=1, code="auth.busy")


def create_access_token(settings: Settings, *, user_id: int) -> tuple[str, int]:
    now = clock.now()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": str(user_id),
        "typ": "access",
        # To the microsecond, so a token issued just after a revocation (same second) is not refused with the old ones.
        "iat": now.timestamp(),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=JWT_ALGORITHM)
    return token, int(lifetime.total_seconds())


_VERIFY_SIGNATURE_ONLY: Options = {
    "require": ["sub", "exp", "iat"],
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}


class AccessClaims(NamedTuple):
    user_id: int
    issued_at: float
    expires_at: float


# Tokens already verified, per signing key: a client sends the same token on every request for its lifetime, and
# PyJWT's parse and HMAC check were 7 % of a lookup by id. The verdict depends on the token and key alone (no
# time-based check runs here, so a token from a server whose clock runs ahead is not refused for good); expiry is
# checked on every call. Bounded, so a flood of forged tokens only churns it.
@functools.lru_cache(maxsize=4096)
def _verified_access_token(secret: str, token: str) -> AccessClaims | None:
    try:
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options=_VERIFY_SIGNATURE_ONLY)
        if claims.get("typ") != "access":
            return None
        return AccessClaims(int(claims["sub"]), float(claims["iat"]), float(claims["exp"]))
    except (jwt.PyJWTError, TypeError, ValueError):
        return None


def _access_claims(settings: Settings, token: str) -> AccessClaims | None:
    """The claims of a valid, unexpired access token, or None."""
    claims = _verified_access_token(settings.secret_key.get_secret_value(), token)
    # Expiry is checked against our clock so tests can move time.
    if claims is None or claims.expires_at <= clock.now().timestamp():
        return None
    return claims


def access_token_expiry(settings: Settings, token: str) -> datetime | None:
    """When a valid access token stops being accepted (a long-lived stream ends then), or None if it already has."""
    claims = _access_claims(settings, token)
    return None if claims is None else datetime.fromtimestamp(claims.expires_at, tz=clock.now().tzinfo)


def decode_access_token(settings: Settings, token: str) -> tuple[int, datetime] | None:
    """The user id and issue time of a valid access token, or None."""
    claims = _access_claims(settings, token)
    if claims is None:
        return None
    return claims.user_id, datetime.fromtimestamp(claims.issued_at, tz=clock.now().tzinfo)


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def fingerprint(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough for lookup, and useless to a thief of the table."""
    return hashlib.sha256(secret.encode()).hexdigest()
