"""The churn warning's vocabulary and rules (SPEC §3.6): statuses, adding measures and confirming, who sees what."""

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from crm_api.core.errors import Conflict, DomainError, Forbidden
from crm_api.core.permissions import Principal
from crm_api.core.rules import RuleTable, conflict, holds, status_in
from crm_api.customers import policy as customer_policy

if TYPE_CHECKING:  # the model imports this module for its statuses
    from crm_api.models.churn import ChurnWarning


class ChurnWarningStatus(StrEnum):
    OPEN = "open"  # raised by the scan
    POSTPONED = "postponed"  # 暂缓流失: the owner added a measure
    CONFIRMED = "confirmed"  # 确认流失: final, the customer is churned


# A customer has at most one warning in these states; the scan skips customers that have one.
LIVE_STATUSES = (ChurnWarningStatus.OPEN, ChurnWarningStatus.POSTPONED)


class ChurnWarningAction(StrEnum):
    ADD_MEASURE = "add_measure"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class OwnedWarning:
    """A warning with its customer's owner, who alone adds measures."""

    warning: "ChurnWarning"
    owner_id: int | None  # None: the customer is in the pool

    @property
    def status(self) -> ChurnWarningStatus:
        return ChurnWarningStatus(self.warning.status)


def _is_owner(subject: OwnedWarning, actor: Principal) -> DomainError | None:
    if not actor.can("churn:manage") or actor.user_id != subject.owner_id:
        return Forbidden("Only the customer's account manager adds measures", code="churn_warning.not_owner")
    return None


def _has_measures(subject: OwnedWarning, _actor: Principal) -> DomainError | None:
    # A warning becomes postponed with its first measure.
    if subject.status != ChurnWarningStatus.POSTPONED:
        return Conflict("Add at least one postpone measure before confirming", code="churn_warning.no_measures")
    return None


RULES: RuleTable[OwnedWarning, ChurnWarningAction] = RuleTable(
    {
        ChurnWarningAction.ADD_MEASURE: (
            status_in(LIVE_STATUSES, conflict("churn_warning.confirmed", "The churn is confirmed; the warning is final")),
            _is_owner,
        ),
        ChurnWarningAction.CONFIRM: (
            status_in(LIVE_STATUSES, conflict("churn_warning.confirmed", "The churn is already confirmed")),
            holds("churn:manage"),
            _has_measures,
        ),
    }
)

# A warning is visible when its customer is: the repository joins the customer.
visible = customer_policy.visible
