from datetime import datetime
from typing import Any

from crm_api.core.schemas import OutputModel


class AuditEventRead(OutputModel):
    id: int
    occurred_at: datetime
    actor_id: int | None
    actor_label: str | None
    entity_type: str
    entity_id: str
    action: str
    changes: dict[str, Any]
    request_id: str | None
    client_ip: str | None
