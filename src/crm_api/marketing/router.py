from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Response, status

from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import DatabaseDep, SessionDep
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.customers.schemas import CustomerRead
from crm_api.marketing import attribution, campaigns, jobs, service
from crm_api.marketing.policy import CampaignChannel, CampaignStatus, CampaignTransition
from crm_api.marketing.schemas import (
    Attribution,
    AttributionModel,
    AudiencePage,
    CampaignCreate,
    CampaignPerformance,
    CampaignRead,
    CampaignUpdate,
    RfmRefreshResult,
    SegmentCount,
    SegmentCreate,
    SegmentRead,
    SegmentUpdate,
    TouchCreate,
    TouchRead,
    VariantCreate,
    VariantRead,
)

segments_router = DomainRouter(prefix="/segments", tags=["marketing"])
campaigns_router = DomainRouter(prefix="/campaigns", tags=["marketing"])
marketing_router = DomainRouter(prefix="/marketing", tags=["marketing"])

MarketingRead = Annotated[Principal, Depends(require("marketing:read"))]
MarketingWrite = Annotated[Principal, Depends(require("marketing:write"))]


MarketingTrack = Annotated[Principal, Depends(require("marketing:track"))]


SegmentPage = Annotated[PageParams, listing("SegmentSort", "name", "created_at", "updated_at")]


@segments_router.get("", response_model=Page[SegmentRead], summary="List saved customer segments")
async def list_segments(_: MarketingRead, session: SessionDep, page: SegmentPage) -> Page[SegmentRead]:
    return await service.list_segments(session, page)


@segments_router.post(
    "",
    response_model=SegmentRead,
    status_code=status.HTTP_201_CREATED,
    summary="Save a customer segment (customer list filters plus RFM ranges and last order date)",
)
@raises("segment.name_taken")
async def create_segment(body: SegmentCreate, principal: MarketingWrite, session: SessionDep) -> SegmentRead:
    return service.to_read(await service.create_segment(session, principal, body))


@segments_router.post(
    "/rfm/refresh",
    response_model=RfmRefreshResult,
    summary="Recompute every customer's RFM scores now (skipped if it is running elsewhere)",
)
async def refresh_rfm(_: MarketingWrite, database: DatabaseDep, settings: SettingsDep) -> RfmRefreshResult:
    outcome = await jobs.run_refresh_now(database, settings)
    return RfmRefreshResult(outcome=outcome.outcome, scored=outcome.counts.get("scored", 0))


@segments_router.get("/{segment_id}", response_model=SegmentRead, summary="Get a segment")
async def get_segment(segment_id: Id, _: MarketingRead, session: SessionDep, etag: ETag) -> SegmentRead:
    return etag(service.to_read(await service.get_segment(session, segment_id)))


@segments_router.patch(
    "/{segment_id}",
    response_model=SegmentRead,
    summary="Change a segment's name or filters",
)
@raises("segment.name_taken")
async def update_segment(
    segment_id: Id, body: SegmentUpdate, principal: MarketingWrite, session: SessionDep, if_match: IfMatch = None
) -> SegmentRead:
    return service.to_read(await service.update_segment(session, principal, segment_id, body, if_match))


@segments_router.delete(
    "/{segment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a segment no campaign uses",
)
@raises("segment.in_use")
async def delete_segment(segment_id: Id, principal: MarketingWrite, session: SessionDep) -> Response:
    await service.delete_segment(session, principal, segment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


SegmentCustomerPage = Annotated[PageParams, listing("SegmentCustomerSort", "code", "name", "created_at", "updated_at")]


@segments_router.get(
    "/{segment_id}/customers",
    response_model=Page[CustomerRead],
    summary="The segment's customers now, newest first",
)
@raises("pagination.invalid_cursor")
async def list_segment_customers(
    segment_id: Id, principal: MarketingRead, session: SessionDep, page: SegmentCustomerPage
) -> Page[CustomerRead]:
    return await service.list_members(session, principal, segment_id, page)


@segments_router.get(
    "/{segment_id}/count",
    response_model=SegmentCount,
    summary="How many customers the segment has now",
)
async def count_segment_customers(segment_id: Id, principal: MarketingRead, session: SessionDep) -> SegmentCount:
    return await service.count_members(session, principal, segment_id)


CampaignPage = Annotated[PageParams, listing("CampaignSort", "name", "starts_on", "created_at", "updated_at")]


@campaigns_router.get("", response_model=Page[CampaignRead], summary="List campaigns, newest first")
async def list_campaigns(
    principal: MarketingRead,
    session: SessionDep,
    page: CampaignPage,
    status: CampaignStatus | None = None,
    channel: CampaignChannel | None = None,
) -> Page[CampaignRead]:
    return await campaigns.list_campaigns(session, principal, page, status=status, channel=channel)


@campaigns_router.post(
    "",
    response_model=CampaignRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft campaign",
)
@raises("campaign.unknown_segment")
async def create_campaign(body: CampaignCreate, principal: MarketingWrite, session: SessionDep) -> CampaignRead:
    return await campaigns.create_campaign(session, principal, body)


@campaigns_router.get(
    "/{campaign_id}",
    response_model=CampaignRead,
    summary="Get a campaign with its variants and the actions you may take",
)
async def get_campaign(campaign_id: Id, principal: MarketingRead, session: SessionDep, etag: ETag) -> CampaignRead:
    return etag(await campaigns.get_campaign(session, principal, campaign_id))


@campaigns_router.patch(
    "/{campaign_id}",
    response_model=CampaignRead,
    summary="Change a draft campaign",
)
@raises("campaign.not_draft", "campaign.period_reversed", "campaign.unknown_segment")
async def update_campaign(
    campaign_id: Id, body: CampaignUpdate, principal: MarketingWrite, session: SessionDep, if_match: IfMatch = None
) -> CampaignRead:
    return await campaigns.update_campaign(session, principal, campaign_id, body, if_match)


@campaigns_router.post(
    "/{campaign_id}/variants",
    response_model=VariantRead,
    status_code=status.HTTP_201_CREATED,
    summary="Add an A/B content variant to a draft campaign",
)
@raises("campaign.not_draft", "campaign_variant.name_taken")
async def add_variant(campaign_id: Id, body: VariantCreate, principal: MarketingWrite, session: SessionDep) -> VariantRead:
    return await campaigns.add_variant(session, principal, campaign_id, body)


AudienceContactPage = Annotated[PageParams, listing("AudienceSort", "name", "created_at", "updated_at")]


@campaigns_router.get(
    "/{campaign_id}/audience",
    response_model=AudiencePage,
    summary="Contacts of the audience segment's customers with marketing consent, with their variant",
)
@raises("pagination.invalid_cursor", "segment.not_found")
async def campaign_audience(
    campaign_id: Id, principal: MarketingRead, session: SessionDep, page: AudienceContactPage
) -> AudiencePage:
    return await campaigns.audience(session, principal, campaign_id, page)


@campaigns_router.post(
    "/{campaign_id}/touches",
    response_model=TouchRead,
    status_code=status.HTTP_201_CREATED,
    summary="Track a touch (sent, opened, clicked, converted); a repeated sent/opened/clicked answers 200 with the first one",
    responses={200: {"model": TouchRead, "description": "Already recorded"}},
)
@raises("campaign.not_tracking", "touch.unknown_contact", "touch.unknown_variant")
async def record_touch(
    campaign_id: Id,
    body: TouchCreate,
    principal: MarketingTrack,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> TouchRead:
    touch, created = await campaigns.record_touch(session, principal, settings, campaign_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return TouchRead.model_validate(touch)


@campaigns_router.get(
    "/{campaign_id}/performance",
    response_model=CampaignPerformance,
    summary="Contacts sent, opened, clicked and converted per variant, with rates",
)
async def campaign_performance(campaign_id: Id, _: MarketingRead, session: SessionDep) -> CampaignPerformance:
    return await campaigns.performance(session, campaign_id)


# Last: `{action}` would otherwise capture /variants and /touches.
@campaigns_router.post(
    "/{campaign_id}/{action}",
    response_model=CampaignRead,
    summary="Schedule (draft, with an audience), start (scheduled), finish (running) or cancel (draft or scheduled) a campaign",
)
@raises(
    "campaign.changed",
    "campaign.no_audience",
    "campaign.not_cancellable",
    "campaign.not_draft",
    "campaign.not_running",
    "campaign.not_scheduled",
)
async def transition_campaign(
    campaign_id: Id,
    action: CampaignTransition,
    principal: MarketingWrite,
    session: SessionDep,
) -> CampaignRead:
    return await campaigns.transition(session, principal, campaign_id, action)


@marketing_router.get(
    "/attribution",
    response_model=Attribution,
    summary="Revenue of completed orders and won opportunities attributed to campaigns, with ROI per campaign and channel",
)
@raises("attribution.period_reversed")
async def campaign_attribution(
    _: MarketingRead,
    session: SessionDep,
    settings: SettingsDep,
    model: AttributionModel = "last_touch",
    date_from: Annotated[date | None, Query(alias="from", description="Orders on or after; wins on or after")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="Orders on or before; wins on or before")] = None,
) -> Attribution:
    return await attribution.attribute(session, settings, model=model, date_from=date_from, date_to=date_to)
