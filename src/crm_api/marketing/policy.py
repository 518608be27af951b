"""The campaign's vocabulary and rules (SPEC §3.9): statuses, channels, touch kinds and transitions.

The model's CHECK constraints, the schemas' enums and the queries use these names; the service
enforces `RULES` and every campaign it returns lists what `RULES` allows the caller. Campaigns have
no data scope: the marketing permissions alone decide who sees them.
"""

from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from crm_api.core.errors import Conflict, DomainError
from crm_api.core.permissions import Principal
from crm_api.core.rules import RuleTable, conflict, holds, status_in

if TYPE_CHECKING:  # the model imports this module for its statuses
    from crm_api.models.marketing import Campaign


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


# Launched campaigns: touches are recorded while one runs and after it is done (late opens,
# conversions), and only these earn attribution.
TRACKED_STATUSES = (CampaignStatus.RUNNING, CampaignStatus.DONE)


class CampaignChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WECHAT = "wechat"
    EVENT = "event"
    ADS = "ads"


class TouchKind(StrEnum):
    SENT = "sent"
    OPENED = "opened"
    CLICKED = "clicked"
    CONVERTED = "converted"


# Kinds recorded at most once per campaign and contact; conversions may repeat.
ONCE_PER_CONTACT_KINDS = (TouchKind.SENT, TouchKind.OPENED, TouchKind.CLICKED)


class CampaignAction(StrEnum):
    EDIT = "edit"
    ADD_VARIANT = "add_variant"
    SCHEDULE = "schedule"
    START = "start"
    FINISH = "finish"
    CANCEL = "cancel"


# The actions that move the status (`POST /campaigns/{id}/{action}`), and the status each leads to.
CampaignTransition = Literal[CampaignAction.SCHEDULE, CampaignAction.START, CampaignAction.FINISH, CampaignAction.CANCEL]
TARGETS: dict[CampaignTransition, CampaignStatus] = {
    CampaignAction.SCHEDULE: CampaignStatus.SCHEDULED,
    CampaignAction.START: CampaignStatus.RUNNING,
    CampaignAction.FINISH: CampaignStatus.DONE,
    CampaignAction.CANCEL: CampaignStatus.CANCELLED,
}


def _has_audience(campaign: "Campaign", _actor: Principal) -> DomainError | None:
    if campaign.segment_id is None:
        return Conflict("Choose the audience segment before scheduling", code="campaign.no_audience")
    return None


_WRITE = holds("marketing:write")
_DRAFT = (CampaignStatus.DRAFT,)

RULES: RuleTable["Campaign", CampaignAction] = RuleTable(
    {
        CampaignAction.EDIT: (_WRITE, status_in(_DRAFT, conflict("campaign.not_draft", "A {status} campaign cannot be edited"))),
        CampaignAction.ADD_VARIANT: (
            _WRITE,
            status_in(_DRAFT, conflict("campaign.not_draft", "A {status} campaign cannot get variants")),
        ),
        CampaignAction.SCHEDULE: (
            _WRITE,
            status_in(_DRAFT, conflict("campaign.not_draft", "A {status} campaign cannot be scheduled")),
            _has_audience,
        ),
        CampaignAction.START: (
            _WRITE,
            status_in((CampaignStatus.SCHEDULED,), conflict("campaign.not_scheduled", "A {status} campaign cannot start")),
        ),
        CampaignAction.FINISH: (
            _WRITE,
            status_in((CampaignStatus.RUNNING,), conflict("campaign.not_running", "A {status} campaign cannot finish")),
        ),
        CampaignAction.CANCEL: (
            _WRITE,
            status_in(
                (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED),
                conflict("campaign.not_cancellable", "A {status} campaign cannot be cancelled"),
            ),
        ),
    }
)
