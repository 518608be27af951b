from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from crm_api.audit import service
from crm_api.audit.schemas import AuditEventRead
from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id

AuditRead = Annotated[Principal, Depends(require("audit:read"))]

router = DomainRouter(prefix="/audit-events", tags=["audit"])


AuditEventPage = Annotated[PageParams, listing("AuditEventSort", "occurred_at")]


@router.get(
    "",
    response_model=Page[AuditEventRead],
    summary="Query the audit trail, newest first",
)
@raises("pagination.invalid_cursor")
async def list_audit_events(
    _: AuditRead,
    session: SessionDep,
    page: AuditEventPage,
    entity_type: Annotated[str | None, Query(max_length=50)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Id | None = None,
    from_: Annotated[datetime | None, Query(alias="from", description="Occurred at or after (ISO 8601)")] = None,
    to: Annotated[datetime | None, Query(description="Occurred before (ISO 8601)")] = None,
) -> Page[AuditEventRead]:
    return await service.list_events(
        session, page, entity_type=entity_type, entity_id=entity_id, actor_id=actor_id, occurred_from=from_, occurred_to=to
    )
