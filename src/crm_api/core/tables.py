"""The platform's own tables, written by core itself: the audit trail, the outbox, job runs, code counters,
idempotency records. `crm_api.models` imports them into the one registry Alembic sees."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK


class AuditEvent(Base):
    """Append-only: nothing in the API updates or deletes these rows."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_actor_id", "actor_id"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    id: Mapped[IntPK]
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None]
    actor_label: Mapped[str | None] = mapped_column(String(120))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(50))
    changes: Mapped[dict[str, Any]]
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(45))


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_job_started_at", "job", "started_at"),
        Index("ix_job_runs_job_scheduled_for", "job", "scheduled_for"),
    )

    id: Mapped[IntPK]
    job: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # The fire time a scheduled run served (the same in every process); null for a run started by hand.
    scheduled_for: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class CodeCounter(Base):
    """Next number for a human-facing code series on SQLite; PostgreSQL draws from a sequence per series."""

    __tablename__ = "code_counters"

    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class IdempotencyRecord(Base):
    """The first response to a write sent with an Idempotency-Key, replayed to retries of it."""

    __tablename__ = "idempotency_records"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    completed_at: Mapped[datetime | None]
    status_code: Mapped[int | None]
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


class OutboxEvent(Base):
    """A domain event, committed or rolled back with the change it describes; append-only."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        # The dispatcher's work queue: only the few undispatched rows are indexed.
        Index(
            "ix_outbox_events_undispatched",
            "id",
            sqlite_where=text("dispatched_at IS NULL"),
            postgresql_where=text("dispatched_at IS NULL"),
        ),
        Index("ix_outbox_events_entity", "entity_type", "entity_id"),
    )

    id: Mapped[IntPK]
    event_type: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)
    dispatched_at: Mapped[datetime | None]


class ChangeLog(Base):
    """Append-only: a row per change of a synced record and per user whose scope it reaches (core.changes).

    Read in (xid, seq) order: `xid` is the writing transaction's id on PostgreSQL (0 on SQLite), so a reader can
    stop below the oldest transaction still running instead of skipping a change committed after a later one."""

    __tablename__ = "change_log"
    __table_args__ = (
        Index("ix_change_log_xid_seq", "xid", "seq"),
        Index("ix_change_log_owner_id_xid_seq", "owner_id", "xid", "seq"),
        # Never a number again once pruned: SQLite would otherwise reuse the highest after a delete.
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[IntPK]
    xid: Mapped[int] = mapped_column(BigInteger)
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    # A user in whose scope the record was before or is after the change; null: nobody's (a pool customer).
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)


class ChangeLogPruned(Base):
    """One row: the last log position the prune job removed. A sync token before it may have missed changes."""

    __tablename__ = "change_log_pruned"

    id: Mapped[int] = mapped_column(primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    pruned_at: Mapped[datetime] = mapped_column(default=clock.now)
