"""Duplicate candidates: pairs of customers in the caller's scope sharing a normalized name, a phone or an email."""

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.pagination import Page, PageParams, PageRows, Sort, paginate
from crm_api.core.permissions import Principal
from crm_api.customers.repository import CustomerRepository
from crm_api.customers.schemas import DuplicatePair, DuplicateReason
from crm_api.models.customer import Customer

# How strongly each shared value says "same company"; several combine as independent evidence.
REASON_WEIGHTS: dict[DuplicateReason, float] = {"name": 0.9, "phone": 0.7, "email": 0.6}
# The rank a pair sorts by: name over phone over email, and more reasons over fewer.
REASON_RANKS: dict[DuplicateReason, int] = {"name": 4, "phone": 2, "email": 1}


def score(reasons: list[DuplicateReason]) -> float:
    unlikely = 1.0
    for reason in reasons:
        unlikely *= 1 - REASON_WEIGHTS[reason]
    return round(1 - unlikely, 3)


def _candidate_pairs(repo: CustomerRepository, principal: Principal) -> Select[int, int, int]:
    """(customer_id, other_id, rank) per pair, customer_id < other_id: one indexed equi-join per reason."""
    scoped = repo.scoped(principal, "customers:read").with_only_columns(
        Customer.id, Customer.name_normalized, Customer.phone_e164, func.lower(Customer.email).label("email")
    )
    a, b = scoped.subquery("a"), scoped.subquery("b")
    keys: dict[DuplicateReason, tuple[ColumnElement[Any], ColumnElement[Any]]] = {
        "name": (a.c.name_normalized, b.c.name_normalized),
        "phone": (a.c.phone_e164, b.c.phone_e164),
        "email": (a.c.email, b.c.email),
    }
    branches = [
        select(a.c.id.label("customer_id"), b.c.id.label("other_id"), literal(REASON_RANKS[reason]).label("rank"))
        .join_from(a, b, and_(mine == theirs, a.c.id < b.c.id))
        .where(mine != "")
        for reason, (mine, theirs) in keys.items()
    ]
    found = union_all(*branches).subquery("found")
    return select(found.c.customer_id, found.c.other_id, func.sum(found.c.rank).label("rank")).group_by(
        found.c.customer_id, found.c.other_id
    )


def _reasons(rank: int) -> list[DuplicateReason]:
    return [reason for reason, bit in REASON_RANKS.items() if rank & bit]


async def list_duplicates(session: AsyncSession, principal: Principal, params: PageParams) -> Page[DuplicatePair]:
    """Likeliest pairs first."""
    repo = CustomerRepository(session)
    pairs = _candidate_pairs(repo, principal).subquery("pairs")
    sort = Sort([pairs.c.rank, pairs.c.customer_id, pairs.c.other_id])
    rows, next_cursor, total = await paginate(session, select(pairs), params, sort, rows=PageRows.COLUMNS)
    names = await repo.names({i for row in rows for i in (row.customer_id, row.other_id)})
    items = [
        DuplicatePair(
            customer_id=row.customer_id,
            customer_name=names[row.customer_id],
            other_id=row.other_id,
            other_name=names[row.other_id],
            score=score(_reasons(row.rank)),
            reasons=_reasons(row.rank),
        )
        for row in rows
    ]
    return Page(items=items, next_cursor=next_cursor, total=total)
