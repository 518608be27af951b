"""Quotes (SPEC §3.13): priced lines, the state machine `policy` states, approval through the engine (§3.14)."""

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.approvals import service as approvals
from crm_api.approvals.policy import ApprovalStatus
from crm_api.approvals.schemas import ApprovalSummary
from crm_api.approvals.subjects import SubjectFacts, register_subject
from crm_api.core import audit
from crm_api.core.clock import clock, local_today
from crm_api.core.codes import next_code
from crm_api.core.config import Settings
from crm_api.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from crm_api.core.http import check_if_match
from crm_api.core.outbox import EventType, RecordEvents
from crm_api.core.pagination import Page, PageParams
from crm_api.core.permissions import Principal
from crm_api.core.transitions import transition
from crm_api.core.types import to_money
from crm_api.customers import service as customers
from crm_api.models.quote import Quote, QuoteLine
from crm_api.opportunities import service as opportunities
from crm_api.opportunities.policy import OpportunityStatus
from crm_api.quotes.pdf import render
from crm_api.quotes.policy import RULES, WRITE, QuoteAction, QuoteStatus
from crm_api.quotes.pricing import LinePrice, price_line, price_quote
from crm_api.quotes.repository import QuoteRepository
from crm_api.quotes.schemas import CustomerAnswer, QuoteCreate, QuoteLineIn, QuoteLineRead, QuoteRead, QuoteUpdate
from crm_api.sales import service as sales

READ = "quotes:read"
QUANTITY_STEP = Decimal("0.001")
ENTITY = "quote"
EVENTS = RecordEvents(ENTITY, QuoteRead, "A quote", changes=("created", "updated"))
APPROVED = EventType(
    "quote.approved", "A quote was approved: by its approvers, or on submit when no discount needed them", QuoteRead
)


def to_read(quote: Quote, actor: Principal | None, approval: ApprovalSummary | None) -> QuoteRead:
    fields = {
        name: getattr(quote, name)
        for name in QuoteRead.model_fields
        if name not in {"lines", "approval", "allowed_actions", "owner_name"}
    }
    return QuoteRead(
        **fields,
        owner_name=quote.owner.full_name,
        lines=[QuoteLineRead.model_validate(line) for line in quote.lines],
        approval=approval,
        allowed_actions=RULES.allowed_actions(quote, actor) if actor is not None else [],
    )


async def read(session: AsyncSession, quote: Quote, actor: Principal | None) -> QuoteRead:
    """The quote as the caller sees it, with its latest approval request."""
    summaries = await approvals.summaries(session, ENTITY, [quote.id])
    return to_read(quote, actor, summaries.get(quote.id))


async def get(session: AsyncSession, actor: Principal, quote_id: int) -> Quote:
    return await QuoteRepository(session).get_scoped_or_404(quote_id, actor, READ, "Quote")


async def list_quotes(
    session: AsyncSession,
    actor: Principal,
    params: PageParams,
    *,
    status: QuoteStatus | None = None,
    customer_id: int | None = None,
    opportunity_id: int | None = None,
    latest_only: bool = False,
) -> Page[QuoteRead]:
    repo = QuoteRepository(session)
    statement = repo.filtered(
        repo.scoped(actor, READ), status=status, customer_id=customer_id, opportunity_id=opportunity_id, latest_only=latest_only
    )
    rows = await repo.page(statement, params)
    summaries = await approvals.summaries(session, ENTITY, [quote.id for quote in rows.rows])
    return rows.to_page(lambda q: to_read(q, actor, summaries.get(q.id)))


async def _counterparty(session: AsyncSession, actor: Principal, data: QuoteCreate) -> dict[str, Any]:
    """The opportunity assigned to the caller, or the customer the caller owns, the quote is for."""
    if data.opportunity_id is not None:
        opportunity = await opportunities.get(session, actor, data.opportunity_id)
        if opportunity.assignee_id != actor.user_id:
            raise Forbidden("Only the opportunity's assignee quotes for it", code="quote.not_assignee")
        if opportunity.status != OpportunityStatus.ASSIGNED:
            raise Conflict(
                f"The opportunity is {opportunity.status}; only an assigned one is quoted for",
                code="quote.opportunity_not_assigned",
                current_status=str(opportunity.status),
            )
        return {"opportunity_id": opportunity.id, "counterparty_name": opportunity.customer_name}
    assert data.customer_id is not None  # the schema asks for exactly one
    customer = await customers.visible_customer(session, actor, data.customer_id, WRITE)
    if customer is None:
        raise NotFound("Customer", data.customer_id)
    if customer.owner_id != actor.user_id:
        raise Forbidden("Only the customer's owner quotes for it", code="quote.not_customer_owner")
    return {"customer_id": customer.id, "counterparty_name": customer.name}


async def _priced_lines(session: AsyncSession, lines: list[QuoteLineIn]) -> list[QuoteLine]:
    """The lines priced from the catalogue (list price and tax rate unless given); all bad lines refused at once."""
    products = await sales.products_by_id(session, (line.product_id for line in lines))
    errors: list[FieldError] = []
    priced: list[QuoteLine] = []
    for index, line in enumerate(lines):
        product = products.get(line.product_id)
        field = f"lines.{index}"
        if product is None or not product.active:
            message = "No such product" if product is None else "The product is inactive"
            errors.append(FieldError(field=f"{field}.product_id", message=message, type="quote.unavailable_product"))
            continue
        unit_price = line.unit_price if line.unit_price is not None else product.price
        if unit_price is None:
            errors.append(
                FieldError(field=f"{field}.unit_price", message="The product has no list price: send one", type="quote.no_price")
            )
            continue
        # At the scale they are stored with, so the quote reads the same before and after it is saved.
        terms = LinePrice(
            quantity=line.quantity.quantize(QUANTITY_STEP),
            unit_price=to_money(unit_price),
            discount_percent=to_money(line.discount_percent),
            tax_rate=to_money(line.tax_rate if line.tax_rate is not None else product.tax_rate),
        )
        amounts = price_line(terms)
        priced.append(
            QuoteLine(
                line_no=index + 1,
                product_id=product.id,
                product_code=product.code,
                product_name=product.name,
                model=product.model,
                unit=product.unit,
                quantity=terms.quantity,
                unit_price=terms.unit_price,
                discount_percent=terms.discount_percent,
                tax_rate=terms.tax_rate,
                subtotal=amounts.subtotal,
                discount=amounts.discount,
                tax=amounts.tax,
                total=amounts.total,
            )
        )
    if errors:
        raise InvalidInput.many(errors, "Some lines cannot be quoted", code="quote.invalid_lines")
    return priced


def _totals(lines: list[QuoteLine]) -> dict[str, Decimal]:
    totals = price_quote(price_line(LinePrice(ln.quantity, ln.unit_price, ln.discount_percent, ln.tax_rate)) for ln in lines)
    return {
        "subtotal": totals.subtotal,
        "discount": totals.discount,
        "tax": totals.tax,
        "total": totals.total,
        "max_discount": max(line.discount_percent for line in lines),
    }


async def create(session: AsyncSession, actor: Principal, settings: Settings, data: QuoteCreate) -> Quote:
    assert actor.user_id is not None  # quotes:write is a user's permission
    counterparty = await _counterparty(session, actor, data)
    lines = await _priced_lines(session, data.lines)
    valid_until = data.valid_until or local_today(settings.time_zone) + timedelta(days=settings.quote_validity_days)
    quote = Quote(
        **counterparty,
        number=await next_code(session, "BJ"),
        owner_id=actor.user_id,
        title=data.title,
        notes=data.notes,
        valid_until=valid_until,
        status=QuoteStatus.DRAFT,
        lines=lines,
        **_totals(lines),
    )
    session.add(quote)
    await _recorded(session, actor, quote, "create", None)
    await EVENTS.publish(session, "created", quote.id, await read(session, quote, None))
    return quote


async def _recorded(
    session: AsyncSession, actor: Principal | None, quote: Quote, action: str, before: audit.Snapshot | None
) -> None:
    await audit.record_change(session, actor=actor, entity_type=ENTITY, entity=quote, action=action, before=before, view=_view)
    await session.refresh(quote, ["owner"])


def _view(quote: Quote) -> audit.Snapshot:
    return {**audit.snapshot(quote), "lines": [audit.snapshot(line) for line in quote.lines]}


async def update(
    session: AsyncSession, actor: Principal, quote_id: int, data: QuoteUpdate, *, if_match: str | None = None
) -> Quote:
    quote = await get(session, actor, quote_id)
    check_if_match(if_match, quote)
    RULES.enforce(QuoteAction.EDIT, quote, actor)
    before = _view(quote)
    changes = data.changes()
    if "lines" in changes:
        lines = await _priced_lines(session, data.lines or [])
        quote.lines.clear()
        await session.flush()  # the old line numbers go before the new ones take them
        quote.lines.extend(lines)
        for field, value in _totals(lines).items():
            setattr(quote, field, value)
    for field in ("title", "notes", "valid_until"):
        if field in changes:
            setattr(quote, field, changes[field])
    quote.updated_at = clock.now()  # new lines alone are a change of the quote: its version moves
    await _recorded(session, actor, quote, "update", before)
    await EVENTS.publish(session, "updated", quote.id, await read(session, quote, None))
    return quote


async def _move(session: AsyncSession, actor: Principal | None, quote: Quote, action: str, changes: dict[str, Any]) -> Quote:
    moved = await transition(session, quote, actor=actor, entity_type=ENTITY, action=action, changes=changes)
    await session.refresh(moved, ["owner"])
    if moved.status == QuoteStatus.APPROVED:
        await APPROVED.publish(session, entity_type=ENTITY, entity_id=moved.id, payload=await read(session, moved, None))
    return moved


async def submit(session: AsyncSession, actor: Principal, settings: Settings, quote_id: int) -> Quote:
    """Approved at once when no line's discount is above the threshold; otherwise through the approval flow."""
    quote = await get(session, actor, quote_id)
    RULES.enforce(QuoteAction.SUBMIT, quote, actor)
    now = clock.now()
    if quote.max_discount <= settings.quote_discount_threshold:
        return await _move(
            session, actor, quote, QuoteAction.SUBMIT, {"status": QuoteStatus.APPROVED, "submitted_at": now, "approved_at": now}
        )
    quote = await _move(session, actor, quote, QuoteAction.SUBMIT, {"status": QuoteStatus.PENDING_APPROVAL, "submitted_at": now})
    request = await approvals.open_request(session, actor, subject_type=ENTITY, subject_id=quote.id)
    if request.status == ApprovalStatus.APPROVED:  # no step of the flow applies to this quote
        quote = await _move(session, actor, quote, "approve", {"status": QuoteStatus.APPROVED, "approved_at": now})
    return quote


async def send(session: AsyncSession, actor: Principal, settings: Settings, quote_id: int) -> Quote:
    quote = await get(session, actor, quote_id)
    RULES.enforce(QuoteAction.SEND, quote, actor)
    if quote.valid_until < local_today(settings.time_zone):
        raise Conflict("The quote's validity has passed: revise it", code="quote.past_validity", current_status=str(quote.status))
    return await _move(session, actor, quote, QuoteAction.SEND, {"status": QuoteStatus.SENT, "sent_at": clock.now()})


async def answer(session: AsyncSession, actor: Principal, quote_id: int, action: QuoteAction, data: CustomerAnswer) -> Quote:
    """The customer accepted or rejected the sent quote: who answered and when, as its owner records it."""
    quote = await get(session, actor, quote_id)
    RULES.enforce(action, quote, actor)
    status = QuoteStatus.ACCEPTED if action == QuoteAction.ACCEPT else QuoteStatus.REJECTED
    changes = {
        "status": status,
        "responded_at": clock.now(),
        "response_by": data.answered_by,
        "response_note": data.note,
        "response_recorded_by_id": actor.user_id,
    }
    return await _move(session, actor, quote, action, changes)


async def revise(session: AsyncSession, actor: Principal, settings: Settings, quote_id: int) -> Quote:
    """A new draft version with the same lines; the revised one is frozen (`superseded_by_id`)."""
    old = await get(session, actor, quote_id)
    RULES.enforce(QuoteAction.REVISE, old, actor)
    copied = ("number", "customer_id", "opportunity_id", "counterparty_name", "owner_id", "title", "notes")
    line_fields = [c.key for c in QuoteLine.__table__.columns if c.key not in {"id", "quote_id"}]
    today = local_today(settings.time_zone)
    new = Quote(
        **{name: getattr(old, name) for name in copied},
        revision=old.revision + 1,
        previous_id=old.id,
        status=QuoteStatus.DRAFT,
        valid_until=max(old.valid_until, today),
        lines=[QuoteLine(**{name: getattr(line, name) for name in line_fields}) for line in old.lines],
        **_totals(list(old.lines)),
    )
    session.add(new)
    await session.flush()
    # The old version's move decides the race: a second revise of it loses here and its new version goes too.
    await transition(
        session, old, actor=actor, entity_type=ENTITY, action=QuoteAction.REVISE, changes={"superseded_by_id": new.id}
    )
    await _recorded(session, actor, new, "create", None)
    await EVENTS.publish(session, "created", new.id, await read(session, new, None))
    return new


class QuoteApprovals:
    """The quote as an approval subject: what approvers see, and the quote's move when the request ends."""

    async def facts(self, session: AsyncSession, subject_id: int) -> SubjectFacts:
        quote = await QuoteRepository(session).get_or_404(subject_id, "Quote")
        return SubjectFacts(
            title=f"报价单 {quote.number} v{quote.revision} · {quote.counterparty_name} · {quote.title}",
            link=f"/api/v1/quotes/{quote.id}",
            amount=quote.total,
            max_discount=quote.max_discount,
        )

    async def settled(self, session: AsyncSession, subject_id: int, outcome: ApprovalStatus, actor: Principal) -> None:
        quote = await QuoteRepository(session).get_or_404(subject_id, "Quote")
        if outcome == ApprovalStatus.APPROVED:
            await _move(session, actor, quote, "approve", {"status": QuoteStatus.APPROVED, "approved_at": clock.now()})
        else:  # rejected or withdrawn: back to the owner's draft
            await _move(session, actor, quote, "return_to_draft", {"status": QuoteStatus.DRAFT, "submitted_at": None})


register_subject(ENTITY, QuoteApprovals())


async def expire(session: AsyncSession, settings: Settings) -> int:
    """The daily job: approved and sent quotes whose last valid day has passed become expired (one UPDATE)."""
    expired = await QuoteRepository(session).expire_past_validity(today=local_today(settings.time_zone), now=clock.now())
    if expired:
        await audit.record_batch(
            session, actor=None, batch_type="quote_expiry", batch_id="daily", action="expire", summary={"expired": expired}
        )
    return expired


async def printed(session: AsyncSession, actor: Principal, settings: Settings, quote_id: int) -> tuple[Quote, bytes]:
    quote = await get(session, actor, quote_id)
    # 0.1 s of CPU: in a thread, so the worker's other requests go on meanwhile.
    return quote, await asyncio.to_thread(render, quote, settings)


async def accepted_for_contract(session: AsyncSession, actor: Principal, quote_id: int) -> tuple[Quote, int]:
    """The caller's accepted quote a contract is drawn from, and its customer (for an opportunity's quote: the
    customer winning the opportunity made)."""
    quote = await get(session, actor, quote_id)
    if quote.owner_id != actor.user_id:
        raise Forbidden("Only the quote's owner may do this", code="quote.not_owner")
    if quote.status != QuoteStatus.ACCEPTED:
        raise Conflict(
            f"The quote is {quote.status}; a contract is drawn from an accepted one",
            code="quote.not_accepted",
            current_status=str(quote.status),
        )
    customer_id = quote.customer_id
    if customer_id is None and quote.opportunity_id is not None:
        customer_id = (await opportunities.get(session, actor, quote.opportunity_id)).customer_id
    if customer_id is None:
        raise Conflict("The quote's opportunity has no customer yet: win it first", code="quote.no_customer")
    return quote, customer_id
