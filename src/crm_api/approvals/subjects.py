"""What may be approved: each subject type registers here, so the engine imports no subject's domain.

A subject's domain calls `register_subject` when it is imported; the engine looks the subject up by type
to show it (title, amount, link) and to tell it the outcome once a request is settled.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.approvals.policy import ApprovalStatus
from crm_api.core.errors import InvalidInput
from crm_api.core.permissions import Principal


@dataclass(frozen=True)
class SubjectFacts:
    """What an approver sees of the subject, and what step conditions test."""

    title: str
    link: str
    amount: Decimal | None = None
    max_discount: Decimal | None = None


class ApprovalSubject(Protocol):
    async def facts(self, session: AsyncSession, subject_id: int) -> SubjectFacts: ...

    async def settled(self, session: AsyncSession, subject_id: int, outcome: ApprovalStatus, actor: Principal) -> None:
        """The request ended `approved`, `rejected` or `withdrawn`: move the subject on, in the same transaction."""
        ...


_SUBJECTS: dict[str, ApprovalSubject] = {}


def register_subject(subject_type: str, subject: ApprovalSubject) -> None:
    _SUBJECTS[subject_type] = subject


def subject_types() -> list[str]:
    return sorted(_SUBJECTS)


def subject_of(subject_type: str) -> ApprovalSubject:
    subject = _SUBJECTS.get(subject_type)
    if subject is None:
        known = ", ".join(subject_types()) or "none yet"
        raise InvalidInput(
            "subject_type", f"No subject type {subject_type} takes approvals (known: {known})", code="approval.unknown_subject"
        )
    return subject
