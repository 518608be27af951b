"""Reading the audit trail; nothing here (or anywhere) changes it."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.audit.schemas import AuditEventRead
from crm_api.core.pagination import Page, PageParams, PageRows, Sort, paginate
from crm_api.models.platform import AuditEvent

# An event's representation, its columns read as a record, not an entity. Kept, so the unfiltered trail (the hot
# read) keeps its page statements.
_EVENTS = select(*(getattr(AuditEvent, name) for name in AuditEventRead.model_fields))


async def list_events(
    session: AsyncSession,
    params: PageParams,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_id: int | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
) -> Page[AuditEventRead]:
    statement = _EVENTS
    if entity_type:
        statement = statement.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        statement = statement.where(AuditEvent.entity_id == entity_id)
    if actor_id is not None:
        statement = statement.where(AuditEvent.actor_id == actor_id)
    if occurred_from is not None:
        statement = statement.where(AuditEvent.occurred_at >= occurred_from)
    if occurred_to is not None:
        statement = statement.where(AuditEvent.occurred_at < occurred_to)
    page = await paginate(session, statement, params, Sort([AuditEvent.id]), rows=PageRows.RECORDS)
    return page.to_page(AuditEventRead.model_validate)
