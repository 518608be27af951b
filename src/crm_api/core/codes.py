"""Human-facing codes (KH00000042): a sequence per series on PostgreSQL, a counter row on SQLite."""

from sqlalchemy import Sequence, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.tables import CodeCounter

# Every series has a PostgreSQL sequence, created by a migration: customers, opportunities, service tickets, quotes, contracts.
SERIES = frozenset({"KH", "JH", "FW", "BJ", "HT"})


def series_sequence(series: str) -> Sequence:
    if series not in SERIES:
        raise ValueError(f"unknown code series {series!r}: add it to SERIES and create its sequence in a migration")
    return Sequence(f"code_seq_{series.lower()}")


async def next_codes(session: AsyncSession, series: str, count: int, *, width: int = 8) -> list[str]:
    """The next `count` codes of a series, increasing.

    PostgreSQL: `nextval` takes no lock a concurrent writer waits on (a counter row was held until commit, so
    creating customers ran one at a time). A rolled-back transaction leaves a gap. SQLite writers are serialised
    anyway: the counter row keeps the codes gapless there.
    """
    sequence = series_sequence(series)
    if session.get_bind().dialect.name == "postgresql":
        values = (await session.scalars(select(sequence.next_value()).select_from(func.generate_series(1, count)))).all()
        return [f"{series}{value:0{width}d}" for value in sorted(values)]
    last = await session.scalar(
        update(CodeCounter)
        .where(CodeCounter.series == series)
        .values(last_value=CodeCounter.last_value + count)
        .returning(CodeCounter.last_value)
    )
    if last is None:
        await session.execute(insert(CodeCounter).values(series=series, last_value=count))
        last = count
    return [f"{series}{value:0{width}d}" for value in range(last - count + 1, last + 1)]


async def next_code(session: AsyncSession, series: str, *, width: int = 8) -> str:
    """Next code of a series."""
    [code] = await next_codes(session, series, 1, width=width)
    return code
