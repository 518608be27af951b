"""The lead's vocabulary and rules (SPEC §3.2): statuses, nurture kinds, transitions, who sees what.

The model's CHECK constraint and partial indexes, the schemas' enums and the queries use these names;
the service enforces `RULES` and every lead it returns lists what `RULES` allows the caller.
"""

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement

from crm_api.core.errors import Conflict, DomainError, Forbidden
from crm_api.core.permissions import Principal, scope_clause
from crm_api.core.rules import Check, RuleTable, holds

if TYPE_CHECKING:  # the model imports this module for its statuses
    from crm_api.models.pipeline import Lead


class LeadStatus(StrEnum):
    NEW = "new"
    WORKING = "working"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


# Open leads are being pursued: one per phone and per email (the partial unique indexes). A tuple,
# so the indexes' SQL is the same on every run.
OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED)
# Everything but converted may still be edited, nurtured or deleted; a converted lead is read-only.
EDITABLE_STATUSES = (*OPEN_STATUSES, LeadStatus.DISQUALIFIED)


class LeadActivityKind(StrEnum):
    VIEWED_ARTICLE = "viewed_article"
    ATTENDED_WEBINAR = "attended_webinar"
    EMAIL_OPENED = "email_opened"
    CALL = "call"
    MEETING = "meeting"
    NOTE = "note"


class LeadAction(StrEnum):
    EDIT = "edit"
    DELETE = "delete"
    NURTURE = "nurture"
    QUALIFY = "qualify"
    DISQUALIFY = "disqualify"
    CONVERT = "convert"


# Besides the lead's owner, who may convert a lead.
CONVERTING_ROLES = frozenset({"marketer", "sales_supervisor", "admin"})


def _status_in(allowed: Iterable[LeadStatus], verb: str) -> Check["Lead"]:
    statuses = frozenset(allowed)

    def check(lead: "Lead", _actor: Principal) -> DomainError | None:
        status = lead.status
        if status == LeadStatus.CONVERTED:
            return Conflict("A converted lead is read-only", code="lead.converted", current_status=status)
        if status not in statuses:
            return Conflict(f"A {status} lead cannot be {verb}", code="lead.invalid_status", current_status=status)
        return None

    return check


def _may_convert(lead: "Lead", actor: Principal) -> DomainError | None:
    if lead.owner_id != actor.user_id and not CONVERTING_ROLES & set(actor.roles):
        return Forbidden(
            "Only the lead's owner, a marketer, a supervisor or an admin converts a lead", code="lead.cannot_convert"
        )
    return None


_WRITE = holds("leads:write")

RULES: RuleTable["Lead", LeadAction] = RuleTable(
    {
        LeadAction.EDIT: (_WRITE, _status_in(EDITABLE_STATUSES, "changed")),
        LeadAction.DELETE: (_WRITE, _status_in(EDITABLE_STATUSES, "deleted")),
        LeadAction.NURTURE: (_WRITE, _status_in(EDITABLE_STATUSES, "nurtured")),
        LeadAction.QUALIFY: (_WRITE, _status_in((LeadStatus.NEW, LeadStatus.WORKING), "qualified")),
        LeadAction.DISQUALIFY: (_WRITE, _status_in(OPEN_STATUSES, "disqualified")),
        # Who converts is checked before the state: a 403 says more than a 409 to one who never may.
        LeadAction.CONVERT: (_WRITE, _may_convert, _status_in(OPEN_STATUSES, "converted")),
    }
)


def visible(principal: Principal, permission: str) -> ColumnElement[bool]:
    """A lead is visible when its owner is within the caller's scope."""
    from crm_api.models.pipeline import Lead

    return scope_clause(principal, permission, Lead.owner_id)
