"""Campaigns: the draft → scheduled → running → done machine, audiences with consent, A/B variants and touches."""

import hashlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit, transitions
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.errors import Conflict, InvalidInput, NotFound
from crm_api.core.http import check_if_match
from crm_api.core.pagination import Page, PageParams, Sort, paginate
from crm_api.core.permissions import Principal
from crm_api.marketing import service as segments
from crm_api.marketing.policy import (
    ONCE_PER_CONTACT_KINDS,
    RULES,
    TARGETS,
    TRACKED_STATUSES,
    CampaignAction,
    CampaignChannel,
    CampaignStatus,
    CampaignTransition,
    TouchKind,
)
from crm_api.marketing.repository import CampaignRepository, SegmentRepository
from crm_api.marketing.schemas import (
    AudienceMember,
    AudiencePage,
    CampaignCreate,
    CampaignPerformance,
    CampaignRead,
    CampaignUpdate,
    TouchCreate,
    VariantCreate,
    VariantPerformance,
    VariantRead,
)
from crm_api.models.customer import Contact
from crm_api.models.marketing import Campaign, CampaignTouch, CampaignVariant

RATE = Decimal("0.0001")


def assign_variant(campaign_id: int, contact_id: int, variants: Sequence[CampaignVariant]) -> CampaignVariant | None:
    """The contact's variant: a stable hash of (campaign, contact) falls into one variant's share of the weights."""
    if not variants:
        return None
    digest = hashlib.sha256(f"{campaign_id}:{contact_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(v.weight for v in variants)
    for variant in sorted(variants, key=lambda v: v.id):
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("the point lies within the total weight")


async def _read(session: AsyncSession, campaign: Campaign, principal: Principal) -> CampaignRead:
    variants = (await CampaignRepository(session).variants([campaign.id]))[campaign.id]
    return _to_read(campaign, variants, principal)


def _to_read(campaign: Campaign, variants: list[CampaignVariant], principal: Principal) -> CampaignRead:
    return CampaignRead.model_validate(
        {
            **audit.snapshot(campaign),
            "version": campaign.version,
            "segment_name": campaign.segment_name,
            "created_by_name": campaign.created_by_name,
            "variants": [VariantRead.model_validate(v) for v in variants],
            "allowed_actions": RULES.allowed_actions(campaign, principal),
        }
    )


async def _get(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await CampaignRepository(session).get(campaign_id)
    if campaign is None:
        raise NotFound("Campaign", campaign_id)
    return campaign


async def get_campaign(session: AsyncSession, principal: Principal, campaign_id: int) -> CampaignRead:
    return await _read(session, await _get(session, campaign_id), principal)


async def list_campaigns(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    status: CampaignStatus | None,
    channel: CampaignChannel | None,
) -> Page[CampaignRead]:
    repo = CampaignRepository(session)
    statement = repo.select()
    if status is not None:
        statement = statement.where(Campaign.status == status)
    if channel is not None:
        statement = statement.where(Campaign.channel == channel)
    campaigns, next_cursor, total = await repo.page(statement, params)
    variants = await repo.variants([c.id for c in campaigns])
    return Page(items=[_to_read(c, variants[c.id], principal) for c in campaigns], next_cursor=next_cursor, total=total)


async def _ensure_segment(session: AsyncSession, segment_id: int | None) -> None:
    if segment_id is not None and await SegmentRepository(session).get(segment_id) is None:
        raise InvalidInput("segment_id", f"Segment {segment_id} does not exist", code="campaign.unknown_segment")


async def create_campaign(session: AsyncSession, principal: Principal, data: CampaignCreate) -> CampaignRead:
    await _ensure_segment(session, data.segment_id)
    campaign = Campaign(**data.model_dump(), status=CampaignStatus.DRAFT, created_by_id=principal.user_id)
    session.add(campaign)
    await audit.record_change(session, actor=principal, entity_type="campaign", entity=campaign, action="create", before=None)
    return await _read(session, campaign, principal)


async def update_campaign(
    session: AsyncSession, principal: Principal, campaign_id: int, data: CampaignUpdate, if_match: str | None
) -> CampaignRead:
    campaign = await _get(session, campaign_id)
    check_if_match(if_match, campaign)
    RULES.enforce(CampaignAction.EDIT, campaign, principal)
    changes = data.changes()
    if "segment_id" in changes:
        await _ensure_segment(session, changes["segment_id"])
    starts_on, ends_on = changes.get("starts_on", campaign.starts_on), changes.get("ends_on", campaign.ends_on)
    if ends_on < starts_on:
        raise InvalidInput("ends_on", "ends_on is before starts_on", code="campaign.period_reversed")
    await segments.apply_changes(session, principal, "campaign", campaign, changes)
    return await _read(session, campaign, principal)


async def transition(session: AsyncSession, principal: Principal, campaign_id: int, action: CampaignTransition) -> CampaignRead:
    """Schedule, start, finish or cancel: a compare-and-set on the status read, audited only when it matched."""
    campaign = await _get(session, campaign_id)
    RULES.enforce(action, campaign, principal)
    changes = {"status": TARGETS[action]}
    await transitions.transition(session, campaign, actor=principal, entity_type="campaign", action=action, changes=changes)
    return await _read(session, campaign, principal)


async def add_variant(session: AsyncSession, principal: Principal, campaign_id: int, data: VariantCreate) -> VariantRead:
    campaign = await _get(session, campaign_id)
    RULES.enforce(CampaignAction.ADD_VARIANT, campaign, principal)
    if await CampaignRepository(session).has_variant_named(campaign.id, data.name):
        raise Conflict(f"The campaign has a variant named {data.name!r}", code="campaign_variant.name_taken")
    variant = CampaignVariant(campaign_id=campaign.id, **data.model_dump())
    session.add(variant)
    await audit.record_change(
        session, actor=principal, entity_type="campaign_variant", entity=variant, action="create", before=None
    )
    return VariantRead.model_validate(variant)


async def audience(session: AsyncSession, principal: Principal, campaign_id: int, params: PageParams) -> AudiencePage:
    """Contacts of the segment's customers who consented to marketing, each with their variant; the others counted."""
    campaign = await _get(session, campaign_id)
    if campaign.segment_id is None:
        return AudiencePage(items=[], next_cursor=None, total=0 if params.with_total else None, excluded_without_consent=0)
    repo = CampaignRepository(session)
    customers = segments.members(session, principal, await segments.get_segment(session, campaign.segment_id))
    contacts, next_cursor, total = await paginate(session, repo.audience(customers, consent=True), params, Sort([Contact.id]))
    excluded = await SegmentRepository(session).count(repo.audience(customers, consent=False))
    variants = (await repo.variants([campaign.id]))[campaign.id]
    items = []
    for contact in contacts:
        variant = assign_variant(campaign.id, contact.id, variants)
        items.append(
            AudienceMember(
                contact_id=contact.id,
                customer_id=contact.customer_id,
                name=contact.name,
                email=contact.email,
                mobile=contact.mobile,
                variant_id=variant.id if variant else None,
            )
        )
    return AudiencePage(items=items, next_cursor=next_cursor, total=total, excluded_without_consent=excluded)


async def record_touch(
    session: AsyncSession, principal: Principal, settings: Settings, campaign_id: int, data: TouchCreate
) -> tuple[CampaignTouch, bool]:
    """The touch and whether it is new: a repeated sent/opened/clicked of a contact returns the first one."""
    campaign = await _get(session, campaign_id)
    if campaign.status not in TRACKED_STATUSES:
        raise Conflict(f"A {campaign.status} campaign records no touches", code="campaign.not_tracking")
    if await session.get(Contact, data.contact_id) is None:
        raise InvalidInput("contact_id", f"Contact {data.contact_id} does not exist", code="touch.unknown_contact")
    repo = CampaignRepository(session)
    if data.kind in ONCE_PER_CONTACT_KINDS:
        existing = await repo.touch(campaign.id, data.contact_id, data.kind)
        if existing is not None:
            return existing, False
    variants = (await repo.variants([campaign.id]))[campaign.id]
    if data.variant_id is None:
        variant = assign_variant(campaign.id, data.contact_id, variants)
        variant_id = variant.id if variant else None
    elif data.variant_id in {v.id for v in variants}:
        variant_id = data.variant_id
    else:
        raise InvalidInput("variant_id", f"Variant {data.variant_id} is not one of the campaign's", code="touch.unknown_variant")
    now = clock.now()
    occurred_at: datetime = data.at or now
    touch = CampaignTouch(
        campaign_id=campaign.id,
        contact_id=data.contact_id,
        variant_id=variant_id,
        kind=data.kind,
        occurred_at=occurred_at,
        occurred_on=occurred_at.astimezone(settings.time_zone).date(),
        created_at=now,
    )
    session.add(touch)
    await audit.record_change(session, actor=principal, entity_type="campaign_touch", entity=touch, action="create", before=None)
    return touch, True


def _performance(variant_id: int | None, name: str | None, counts: dict[str, int]) -> VariantPerformance:
    sent = counts.get(TouchKind.SENT, 0)

    def rate(kind: TouchKind) -> Decimal | None:
        return (Decimal(counts.get(kind, 0)) / sent).quantize(RATE) if sent else None

    return VariantPerformance(
        variant_id=variant_id,
        variant_name=name,
        sent=sent,
        opened=counts.get(TouchKind.OPENED, 0),
        clicked=counts.get(TouchKind.CLICKED, 0),
        converted=counts.get(TouchKind.CONVERTED, 0),
        open_rate=rate(TouchKind.OPENED),
        click_rate=rate(TouchKind.CLICKED),
        conversion_rate=rate(TouchKind.CONVERTED),
    )


async def performance(session: AsyncSession, campaign_id: int) -> CampaignPerformance:
    """Distinct contacts sent, opened, clicked and converted, per variant and in total."""
    campaign = await _get(session, campaign_id)
    repo = CampaignRepository(session)
    variants = (await repo.variants([campaign.id]))[campaign.id]
    by_variant: dict[int | None, dict[str, int]] = {v.id: {} for v in variants}
    for variant_id, kind, count in await repo.touch_counts(campaign.id):
        by_variant.setdefault(variant_id, {})[kind] = count
    names: dict[int | None, str | None] = {v.id: v.name for v in variants}
    return CampaignPerformance(
        campaign_id=campaign.id,
        variants=[_performance(variant_id, names.get(variant_id), counts) for variant_id, counts in by_variant.items()],
        total=_performance(None, None, await repo.touch_totals(campaign.id)),
    )
