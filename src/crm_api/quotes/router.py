from typing import Annotated

from fastapi import Depends, Query, status
from fastapi.responses import Response

from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import SessionDep, SnapshotRoute
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.quotes import service
from crm_api.quotes.policy import QuoteAction, QuoteStatus
from crm_api.quotes.schemas import PRICING_RULE, CustomerAnswer, QuoteCreate, QuoteRead, QuoteUpdate

# Reads load a record with its lines or steps and approval summaries: several statements, one snapshot.
router = DomainRouter(tags=["quotes"], route_class=SnapshotRoute)

QuotesRead = Annotated[Principal, Depends(require("quotes:read"))]
QuotesWrite = Annotated[Principal, Depends(require("quotes:write"))]


QuotePage = Annotated[PageParams, listing("QuoteSort", "number", "valid_until", "total", "created_at", "updated_at")]


# What any step of a quote's state machine (the policy's rule table) may be refused with.
ACTION_REFUSALS = (
    "quote.changed",
    "quote.frozen",
    "quote.not_approved",
    "quote.not_draft",
    "quote.not_owner",
    "quote.not_revisable",
    "quote.not_sent",
)


@router.get(
    "/quotes",
    response_model=Page[QuoteRead],
    summary="List quotes in the caller's scope",
)
async def list_quotes(
    principal: QuotesRead,
    session: SessionDep,
    page: QuotePage,
    status_: Annotated[QuoteStatus | None, Query(alias="status")] = None,
    customer_id: Id | None = None,
    opportunity_id: Id | None = None,
    latest_only: Annotated[bool, Query(description="Leave out versions that were revised")] = False,
) -> Page[QuoteRead]:
    return await service.list_quotes(
        session, principal, page, status=status_, customer_id=customer_id, opportunity_id=opportunity_id, latest_only=latest_only
    )


@router.post(
    "/quotes",
    response_model=QuoteRead,
    status_code=status.HTTP_201_CREATED,
    summary="Draft a quote for an opportunity assigned to the caller or a customer the caller owns",
    description=PRICING_RULE,
)
@raises(
    "customer.not_found",
    "opportunity.not_found",
    "quote.not_assignee",
    "quote.not_customer_owner",
    "quote.opportunity_not_assigned",
)
async def create_quote(body: QuoteCreate, principal: QuotesWrite, session: SessionDep, settings: SettingsDep) -> QuoteRead:
    return await service.read(session, await service.create(session, principal, settings, body), principal)


@router.get(
    "/quotes/{quote_id}",
    response_model=QuoteRead,
    summary="Get a quote with its lines, totals, approval and what the caller may do",
    description=PRICING_RULE,
)
async def get_quote(quote_id: Id, principal: QuotesRead, session: SessionDep, etag: ETag) -> QuoteRead:
    return etag(await service.read(session, await service.get(session, principal, quote_id), principal))


@router.patch(
    "/quotes/{quote_id}",
    response_model=QuoteRead,
    summary="Change a draft quote (its owner); lines sent replace the lines",
    description=PRICING_RULE,
)
@raises("quote.frozen", "quote.not_draft", "quote.not_owner")
async def update_quote(
    quote_id: Id, body: QuoteUpdate, principal: QuotesWrite, session: SessionDep, if_match: IfMatch = None
) -> QuoteRead:
    return await service.read(session, await service.update(session, principal, quote_id, body, if_match=if_match), principal)


@router.post(
    "/quotes/{quote_id}/submit",
    response_model=QuoteRead,
    summary="Submit a draft: approved at once when no discount is above the threshold, else pending approval",
)
@raises(
    "approval.no_flow",
    "approval.no_requester",
    "approval.unknown_subject",
    "quote.changed",
    "quote.frozen",
    "quote.not_draft",
    "quote.not_owner",
)
async def submit_quote(quote_id: Id, principal: QuotesWrite, session: SessionDep, settings: SettingsDep) -> QuoteRead:
    return await service.read(session, await service.submit(session, principal, settings, quote_id), principal)


@router.post(
    "/quotes/{quote_id}/send",
    response_model=QuoteRead,
    summary="Record an approved quote as sent to the customer",
)
@raises("quote.changed", "quote.frozen", "quote.not_approved", "quote.not_owner", "quote.past_validity")
async def send_quote(quote_id: Id, principal: QuotesWrite, session: SessionDep, settings: SettingsDep) -> QuoteRead:
    return await service.read(session, await service.send(session, principal, settings, quote_id), principal)


@router.post(
    "/quotes/{quote_id}/accept",
    response_model=QuoteRead,
    summary="Record that the customer accepted a sent quote (who and when)",
)
@raises(*ACTION_REFUSALS)
async def accept_quote(quote_id: Id, body: CustomerAnswer, principal: QuotesWrite, session: SessionDep) -> QuoteRead:
    return await service.read(session, await service.answer(session, principal, quote_id, QuoteAction.ACCEPT, body), principal)


@router.post(
    "/quotes/{quote_id}/reject",
    response_model=QuoteRead,
    summary="Record that the customer rejected a sent quote (who and when)",
)
@raises(*ACTION_REFUSALS)
async def reject_quote(quote_id: Id, body: CustomerAnswer, principal: QuotesWrite, session: SessionDep) -> QuoteRead:
    return await service.read(session, await service.answer(session, principal, quote_id, QuoteAction.REJECT, body), principal)


@router.post(
    "/quotes/{quote_id}/revise",
    response_model=QuoteRead,
    status_code=status.HTTP_201_CREATED,
    summary="Revise an approved or sent quote: a new draft version; this one is frozen",
)
@raises("quote.changed", "quote.frozen", "quote.not_owner", "quote.not_revisable")
async def revise_quote(quote_id: Id, principal: QuotesWrite, session: SessionDep, settings: SettingsDep) -> QuoteRead:
    return await service.read(session, await service.revise(session, principal, settings, quote_id), principal)


@router.get(
    "/quotes/{quote_id}/pdf",
    response_class=Response,
    summary="The quote printed as a PDF (Chinese), with the company header, lines, totals and validity",
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}, "description": "The PDF"},
    },
)
async def print_quote(quote_id: Id, principal: QuotesRead, session: SessionDep, settings: SettingsDep) -> Response:
    quote, document = await service.printed(session, principal, settings, quote_id)
    disposition = f'inline; filename="{quote.number}-v{quote.revision}.pdf"'
    return Response(document, media_type="application/pdf", headers={"Content-Disposition": disposition})
