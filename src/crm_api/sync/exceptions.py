from crm_api.core.errors import DomainError


class TokenExpired(DomainError):
    """The sync token stands before the oldest change the log still keeps (CRM_SYNC_LOG_RETENTION_DAYS)."""

    status, code, title = 410, "sync.token_expired", "The sync token has expired"
