"""The quote's vocabulary and rules (SPEC §3.13): statuses, actions, who may do what, who sees which quotes.

draft → pending_approval → approved → sent → accepted | rejected | expired. Submitting goes straight to
approved when no line's discount is above the threshold. A rejected or withdrawn approval returns the quote
to draft. Revising an approved or sent quote makes a new draft version; the old one is frozen.
"""

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement

from crm_api.core.errors import Conflict, DomainError, Forbidden
from crm_api.core.permissions import Principal, scope_clause
from crm_api.core.rules import RuleTable, conflict, holds, status_in

if TYPE_CHECKING:  # the model imports this module for its statuses
    from crm_api.models.quote import Quote


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


# An offer the customer may still take up: the expiry job ends these once their validity has passed.
OUTSTANDING = frozenset({QuoteStatus.APPROVED, QuoteStatus.SENT})


class QuoteAction(StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    SEND = "send"
    ACCEPT = "accept"
    REJECT = "reject"
    REVISE = "revise"


WRITE = "quotes:write"


def _is_owner(quote: "Quote", actor: Principal) -> DomainError | None:
    if quote.owner_id != actor.user_id:
        return Forbidden("Only the quote's owner may do this", code="quote.not_owner")
    return None


def _not_frozen(quote: "Quote", _actor: Principal) -> DomainError | None:
    if quote.superseded_by_id is not None:
        return Conflict("This version was revised; work on the newest one", code="quote.frozen", current_status=str(quote.status))
    return None


_OWNER = (holds(WRITE), _is_owner, _not_frozen)
_DRAFT = status_in([QuoteStatus.DRAFT], conflict("quote.not_draft", "The quote is {status}; only a draft allows this"))
_SENT = status_in([QuoteStatus.SENT], conflict("quote.not_sent", "The quote is {status}; the customer answers a sent quote"))

RULES: RuleTable["Quote", QuoteAction] = RuleTable(
    {
        QuoteAction.EDIT: (*_OWNER, _DRAFT),
        QuoteAction.SUBMIT: (*_OWNER, _DRAFT),
        QuoteAction.SEND: (
            *_OWNER,
            status_in(
                [QuoteStatus.APPROVED], conflict("quote.not_approved", "The quote is {status}; only an approved one is sent")
            ),
        ),
        QuoteAction.ACCEPT: (*_OWNER, _SENT),
        QuoteAction.REJECT: (*_OWNER, _SENT),
        QuoteAction.REVISE: (
            *_OWNER,
            status_in(OUTSTANDING, conflict("quote.not_revisable", "The quote is {status}; an approved or sent one is revised")),
        ),
    }
)


def visible(principal: Principal, permission: str) -> ColumnElement[bool]:
    """A quote is visible when its owner is within the caller's scope."""
    from crm_api.models.quote import Quote

    return scope_clause(principal, permission, Quote.owner_id)
