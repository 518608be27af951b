from datetime import datetime
from typing import Any

from crm_api.core.schemas import OutputModel


class JobRunRead(OutputModel):
    id: int
    job: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    counts: dict[str, Any]
    error: str | None


class JobRead(OutputModel):
    name: str
    cron: str
