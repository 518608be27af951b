"""Segments (saved customer filters, evaluated live) and the RFM refresh."""

from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.churn.service import months_before
from crm_api.core import audit
from crm_api.core.clock import clock, local_today
from crm_api.core.config import Settings
from crm_api.core.errors import Conflict, NotFound
from crm_api.core.http import check_if_match
from crm_api.core.pagination import Page, PageParams
from crm_api.core.permissions import Principal
from crm_api.customers.schemas import CustomerRead
from crm_api.marketing.repository import CampaignRepository, SegmentRepository
from crm_api.marketing.schemas import SegmentCount, SegmentCreate, SegmentFilters, SegmentRead, SegmentUpdate
from crm_api.models.customer import Customer
from crm_api.models.marketing import Segment

RFM_MONTHS = 12


async def apply_changes(
    session: AsyncSession,
    principal: Principal,
    entity_type: str,
    entity: Any,
    changes: dict[str, Any],
    action: str = "update",
) -> None:
    """Set the fields, flush, and audit the change in the same transaction."""
    before = audit.snapshot(entity)
    for field, value in changes.items():
        setattr(entity, field, value)
    await audit.record_change(session, actor=principal, entity_type=entity_type, entity=entity, action=action, before=before)


def to_read(segment: Segment) -> SegmentRead:
    return SegmentRead.model_validate(segment)


def _stored(filters: SegmentFilters) -> dict[str, Any]:
    return filters.model_dump(mode="json", exclude_none=True)


async def _name_free(session: AsyncSession, name: str, *, other_than: int | None = None) -> None:
    found = await session.scalar(SegmentRepository(session).select().where(Segment.name == name))
    if found is not None and found.id != other_than:
        raise Conflict(f"A segment named {name!r} exists", code="segment.name_taken")


async def get_segment(session: AsyncSession, segment_id: int) -> Segment:
    segment = await SegmentRepository(session).get(segment_id)
    if segment is None:
        raise NotFound("Segment", segment_id)
    return segment


async def list_segments(session: AsyncSession, params: PageParams) -> Page[SegmentRead]:
    repo = SegmentRepository(session)
    segments, next_cursor, total = await repo.page(repo.select(), params)
    return Page(items=[to_read(s) for s in segments], next_cursor=next_cursor, total=total)


async def create_segment(session: AsyncSession, principal: Principal, data: SegmentCreate) -> Segment:
    await _name_free(session, data.name)
    segment = Segment(
        name=data.name, description=data.description, filters=_stored(data.filters), created_by_id=principal.user_id
    )
    session.add(segment)
    await audit.record_change(session, actor=principal, entity_type="segment", entity=segment, action="create", before=None)
    return segment


async def update_segment(
    session: AsyncSession, principal: Principal, segment_id: int, data: SegmentUpdate, if_match: str | None
) -> Segment:
    segment = await get_segment(session, segment_id)
    check_if_match(if_match, segment)
    changes = data.changes()
    if "name" in changes:
        await _name_free(session, changes["name"], other_than=segment.id)
    if "filters" in changes:
        changes["filters"] = _stored(SegmentFilters.model_validate(changes["filters"]))
    await apply_changes(session, principal, "segment", segment, changes)
    return segment


async def delete_segment(session: AsyncSession, principal: Principal, segment_id: int) -> None:
    segment = await get_segment(session, segment_id)
    if await CampaignRepository(session).uses_segment(segment.id):
        raise Conflict("Campaigns use this segment as their audience", code="segment.in_use")
    await audit.delete_recorded(session, actor=principal, entity_type="segment", entity=segment)


def members(session: AsyncSession, principal: Principal, segment: Segment) -> Select[Customer]:
    """The segment's customers the caller may see, as a statement (evaluated live)."""
    return SegmentRepository.members(principal, "marketing:read", SegmentFilters.model_validate(segment.filters))


async def list_members(session: AsyncSession, principal: Principal, segment_id: int, params: PageParams) -> Page[CustomerRead]:
    segment = await get_segment(session, segment_id)
    customers, next_cursor, total = await SegmentRepository(session).page_members(members(session, principal, segment), params)
    return Page(items=[CustomerRead.model_validate(c) for c in customers], next_cursor=next_cursor, total=total)


async def count_members(session: AsyncSession, principal: Principal, segment_id: int) -> SegmentCount:
    segment = await get_segment(session, segment_id)
    count = await SegmentRepository(session).count(members(session, principal, segment))
    return SegmentCount(segment_id=segment.id, customers=count)


async def refresh_rfm(session: AsyncSession, settings: Settings) -> int:
    since = months_before(local_today(settings.time_zone), RFM_MONTHS)
    scored = await SegmentRepository(session).refresh_rfm(since=since, now=clock.now())
    await audit.record_batch(
        session,
        actor=None,
        batch_type="rfm_refresh",
        batch_id=since.isoformat(),
        action="refresh",
        summary={"since": since.isoformat(), "scored": scored},
    )
    return scored
