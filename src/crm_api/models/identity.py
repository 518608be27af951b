"""Users, teams, roles and the credentials that authenticate them."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.references import name_of

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Versioned, Timestamped, Base):
    __tablename__ = "teams"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))


class Role(Versioned, Timestamped, Base):
    __tablename__ = "roles"

    id: Mapped[IntPK]
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    builtin: Mapped[bool] = mapped_column(default=False)

    permissions: Mapped[list["RolePermission"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RolePermission.permission"
    )


class RolePermission(Base):
    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))


class User(Versioned, Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[IntPK]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    team_name: Mapped[str | None] = name_of(Team.name, team_id)
    # Tokens issued up to this instant are refused: set by a disable, a password or a role change.
    tokens_valid_after: Mapped[datetime | None]
    # How many active customers this person may own and still claim from the pool; None: CRM_POOL_CLAIM_LIMIT.
    pool_claim_limit: Mapped[int | None]

    team: Mapped[Team | None] = relationship(lazy="raise")
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="raise", order_by=Role.code)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"),)

    id: Mapped[IntPK]
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    succeeded: Mapped[bool]
    client_ip: Mapped[str | None] = mapped_column(String(45))


class LoginThrottle(Base):
    """A username's lockout window: the password checks that failed in it, and those claimed and still running.

    Together they never pass CRM_LOGIN_MAX_FAILURES, so no more guesses than that are evaluated per window; only
    failures lock, and a sign-in sets them back to none."""

    __tablename__ = "login_throttles"
    __table_args__ = (Index("ix_login_throttles_window_started_at", "window_started_at"),)

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime]
    failures: Mapped[int] = mapped_column(Integer)
    checks_in_flight: Mapped[int] = mapped_column(Integer)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("key_hash"),)

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    role: Mapped[Role] = relationship(lazy="raise")


class UserTotp(Base):
    """A user's TOTP second factor: pending after setup, active once `enabled_at` is set.

    The secret is stored as is (no key-management service to encrypt it with); it is returned once, by setup,
    never read back through the API nor copied into the audit trail."""

    __tablename__ = "user_totp"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    enabled_at: Mapped[datetime | None]
    # The newest 30-second step a code was accepted for: a code works once.
    last_used_step: Mapped[int | None]


class TotpRecoveryCode(Base):
    __tablename__ = "totp_recovery_codes"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]
