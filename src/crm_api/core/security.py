"""Password hashing, JWT access tokens, opaque refresh tokens and API key secrets."""

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import jwt
from pwdlib import PasswordHash

from crm_api.core.clock import clock
from crm_api.core.config import Settings

JWT_ALGORITHM = "HS256"

password_hash = PasswordHash.recommended()
# Verified against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = password_hash.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return password_hash.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    if hashed is None:
        password_hash.verify(password, _DUMMY_HASH)
        return False
    return password_hash.verify(password, hashed)


def create_access_token(settings: Settings, *, user_id: int) -> tuple[str, int]:
    now = clock.now()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": str(user_id),
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=JWT_ALGORITHM)
    return token, int(lifetime.total_seconds())


def decode_access_token(settings: Settings, token: str) -> tuple[int, datetime] | None:
    """The user id and issue time of a valid access token, or None."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp", "iat"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    # Expiry is checked against our clock so tests can move time.
    if claims.get("typ") != "access" or claims["exp"] <= clock.now().timestamp():
        return None
    try:
        user_id = int(claims["sub"])
    except ValueError:
        return None
    return user_id, datetime.fromtimestamp(claims["iat"], tz=clock.now().tzinfo)


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def fingerprint(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough for lookup, and useless to a thief of the table."""
    return hashlib.sha256(secret.encode()).hexdigest()
