"""The webhook delivery's vocabulary: the statuses the dispatcher moves it through (pending → succeeded | failed → dead)."""

from datetime import datetime
from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt, or sent again by hand
    FAILED = "failed"  # the last attempt failed; tried again after the backoff
    SUCCEEDED = "succeeded"  # final
    DEAD = "dead"  # out of attempts; only a retry by hand sends it again


# The dispatcher claims deliveries in these states once they are due.
RETRYABLE = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


def delivery_status(*, succeeded: bool, next_attempt_at: datetime | None) -> DeliveryStatus:
    """After an attempt: succeeded, failed and due again at `next_attempt_at`, or dead (no attempt left)."""
    if succeeded:
        return DeliveryStatus.SUCCEEDED
    return DeliveryStatus.FAILED if next_attempt_at is not None else DeliveryStatus.DEAD
