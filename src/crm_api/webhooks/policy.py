"""The webhook delivery's vocabulary: the statuses the dispatcher moves it through (pending → succeeded | failed → dead)."""

from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt, or sent again by hand
    FAILED = "failed"  # the last attempt failed; tried again after the backoff
    SUCCEEDED = "succeeded"  # final
    DEAD = "dead"  # out of attempts; only a retry by hand sends it again


# The dispatcher claims deliveries in these states once they are due.
RETRYABLE = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
