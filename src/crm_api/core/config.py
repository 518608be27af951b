"""Settings, read once from `CRM_`-prefixed environment variables."""

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Only good enough for a laptop: production refuses to start with it.
DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production!"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite+aiosqlite:///./crm.db"
    # Connections per worker, all kept open: past it requests wait for one rather than open and close
    # connections of their own, which costs PostgreSQL a process each time.
    database_pool_size: int = Field(default=20, ge=1)
    database_echo: bool = False
    # A round trip per checkout; without it a connection the server dropped fails one request (503), then is replaced.
    database_pool_pre_ping: bool = False
    # Bounds on a database that does not answer, each ending in a 503: opening a connection, waiting for a pooled
    # one, and one command (client side; on SQLite, how long a statement waits for a lock).
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    database_command_timeout_seconds: float = Field(default=10.0, gt=0)
    # PostgreSQL's own statement_timeout (0: none). Below the command timeout, so a slow statement is cancelled by
    # the server and its connection stays usable.
    database_statement_timeout_ms: int = Field(default=8000, ge=0)
    # A scheduled job's statements (the churn scan reads every customer and their orders at once): minutes where a
    # request's get seconds, still bounded. Jobs run on an engine of their own with this statement and command time.
    job_statement_timeout_seconds: float = Field(default=600.0, gt=0)
    # /health/ready answers 503 past this, whatever the database does.
    health_ready_timeout_seconds: float = Field(default=1.0, gt=0)
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=14, ge=1)
    # A rotated refresh token presented again within this many seconds is refused without ending the session
    # (two tabs refreshing at once); later, it is taken as stolen and its whole family is revoked.
    refresh_reuse_grace_seconds: int = Field(default=0, ge=0)
    # Each worker keeps the callers it resolved (user, roles, grants), so a request costs no lookup; a change to any
    # of them drops the entry in every worker when it commits (PostgreSQL NOTIFY). Without NOTIFY (SQLite, or while
    # the listening connection reconnects) an entry is trusted this many seconds, so other processes see a change
    # within it.
    principal_cache_size: int = Field(default=4096, ge=1)
    principal_cache_seconds: float = Field(default=1.0, ge=0)
    # The same for the data dictionary and the custom field definitions every write checks against.
    reference_cache_seconds: float = Field(default=1.0, ge=0)
    business_timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    cors_origins: list[str] = []
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    # Argon2 checks running at once per worker (each is CPU-bound and takes 19 MiB), and how many more may wait
    # for one; past that a sign-in is answered 429 at once rather than queued.
    password_check_concurrency: int = Field(default=1, ge=1)
    password_check_queue: int = Field(default=32, ge=0)
    # How long a sign-in in that line waits for its check to start; past it, 429 too, so each is answered in time.
    password_check_wait_seconds: float = Field(default=2.0, gt=0)
    scheduler_enabled: bool = False
    # How long a scheduler waits for another process's run of the same job before skipping a fire time; keep it under
    # the statement timeout, which also ends the wait.
    scheduler_lock_wait_seconds: float = Field(default=5, ge=0, le=60)
    # On SIGTERM: how long `crm serve` waits for the requests in flight, and `crm scheduler` (or an API process
    # running the scheduler) for the jobs running, before cancelling them. Keep it under the orchestrator's stop
    # timeout (Docker's stop_grace_period, Kubernetes' terminationGracePeriodSeconds).
    shutdown_grace_seconds: int = Field(default=20, ge=1)
    churn_scan_cron: str = "0 2 * * sat"
    churn_inactive_months: int = Field(default=6, ge=1)
    opportunity_stall_cron: str = "0 3 * * *"
    opportunity_stall_days: int = Field(default=14, ge=1)
    follow_up_days: int = Field(default=30, ge=1)
    # Notification streams (SSE): a comment this often keeps proxies from closing an idle stream; on SQLite a stream
    # looks for new notifications and checks its caller this often; on PostgreSQL NOTIFY wakes it, and it checks its
    # caller at least this often besides (a disabled user or a revoked token is announced at once).
    notification_heartbeat_seconds: float = Field(default=15.0, gt=0)
    notification_poll_seconds: float = Field(default=1.0, gt=0)
    notification_recheck_seconds: float = Field(default=60.0, gt=0)
    # How often emails and group-robot messages (notifications, emails to contacts) are sent and retried.
    notification_dispatch_cron: str = "* * * * *"
    # The supervisors' weekly report (notification and HTML email), of the week just ended.
    weekly_report_cron: str = "0 8 * * mon"
    # How often open tickets are checked against their SLA due times (a breach notifies once).
    ticket_sla_check_cron: str = "*/5 * * * *"
    # The customer pool (§3.12): how many active customers one person may own and still claim another, and how
    # long after releasing a customer its former owner may not claim it back.
    pool_claim_limit: int = Field(default=300, ge=0)
    pool_claim_cooldown_days: int = Field(default=7, ge=0)
    # Imports (§3.17): files of up to this many rows run in the request, larger ones in the background.
    import_inline_max_rows: int = Field(default=10_000, ge=0)
    import_max_rows: int = Field(default=200_000, ge=1)
    import_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    # Rows read, checked and written together: what bounds an import's memory.
    import_chunk_rows: int = Field(default=1_000, ge=1)
    # Row errors kept per import (every rejected row is still counted).
    import_max_reported_errors: int = Field(default=10_000, ge=1)
    # How often a runner (the scheduler process, or a worker with the scheduler on) looks for queued imports.
    import_poll_seconds: float = Field(default=10.0, gt=0)
    # A running import whose progress has not moved for this long lost its process: another runner takes it over.
    import_lease_seconds: float = Field(default=300.0, gt=0)
    # How many customers one owner may lock out of the recycle job.
    pool_lock_limit: int = Field(default=10, ge=0)
    # The daily job returning customers to the pool by the recycle rules, and warning their owners first.
    pool_recycle_cron: str = "30 0 * * *"
    # Quotes (§3.13): a line discount above this percent needs approval; validity when a quote names none;
    # the daily job that expires quotes past their validity; the company header printed on a quote.
    quote_discount_threshold: Decimal = Field(default=Decimal("10"), ge=0, le=100)
    quote_validity_days: int = Field(default=30, ge=1)
    quote_expiry_cron: str = "30 0 * * *"
    # Payment plans (§3.13): the daily reminder tells a contract's owner of an installment due within this many days,
    # and of one overdue, once each.
    installment_due_soon_days: int = Field(default=3, ge=0)
    installment_reminder_cron: str = "0 8 * * *"
    company_name: str = "示例科技有限公司"
    company_address: str = ""
    company_phone: str = ""
    document_dir: Path = Path("./data/documents")
    document_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # A field visit's photo (PNG or JPEG, attached to an interaction).
    photo_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    # How long the change log keeps a change for phones to sync; a sync token older than that starts again (410).
    sync_log_retention_days: int = Field(default=90, ge=1)
    # Any other request body; larger ones are refused (413) before they are read.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # /docs, /redoc and /openapi.json; unset: open except in production.
    public_docs: bool | None = None
    # Crontab (5 fields), or 6 with seconds first ("*/2 * * * * *"), like every *_cron setting.
    webhook_dispatch_cron: str = "* * * * *"
    # Off in production: a subscription may not point at loopback, private or link-local hosts (SSRF).
    webhook_allow_private_hosts: bool = False
    # Every outbound target (webhooks, group robots, the SMTP server) may be loopback, private or link-local (SSRF
    # guard off); unset: in dev only, or where CRM_WEBHOOK_ALLOW_PRIVATE_HOSTS says so.
    allow_private_targets: bool | None = None
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_batch_size: int = Field(default=100, ge=1)
    log_level: str = "INFO"
    # The share of requests the access log records (a JSON line each); failures (>= 500) and slow requests are
    # always recorded. Unset: every request, except in production (5 %, so logging stays off the hot path).
    access_log_sample: float | None = Field(default=None, ge=0, le=1)
    access_log_slow_ms: float = Field(default=1000.0, ge=0)
    # FastAPI's native OpenTelemetry: spans, metrics and logs, its exporters configured from the standard OTEL_*
    # variables. Off, a request does not ask the global providers whether anyone configured them.
    opentelemetry: bool = False
    # Tests only (CRM_ENV=test): the process SIGKILLs itself right after committing a write to this path.
    test_crash_after_commit_path: str | None = None

    @field_validator("business_timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> "Settings":
        if self.env == "prod":
            secret = self.secret_key.get_secret_value()
            if secret == DEV_SECRET_KEY or len(secret.encode()) < 32:
                raise ValueError("CRM_SECRET_KEY must be set to at least 32 bytes when CRM_ENV=prod")
        if self.test_crash_after_commit_path is not None and self.env != "test":
            raise ValueError("CRM_TEST_CRASH_AFTER_COMMIT_PATH is for tests only (CRM_ENV=test)")
        return self

    @property
    def time_zone(self) -> ZoneInfo:
        return ZoneInfo(self.business_timezone)

    @property
    def access_log_share(self) -> float:
        if self.access_log_sample is not None:
            return self.access_log_sample
        return 0.05 if self.env == "prod" else 1.0

    @property
    def docs_are_public(self) -> bool:
        return self.public_docs if self.public_docs is not None else self.env != "prod"

    @property
    def private_targets_allowed(self) -> bool:
        if self.allow_private_targets is not None:
            return self.allow_private_targets
        return self.webhook_allow_private_hosts or self.env == "dev"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def _settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings_of)]
