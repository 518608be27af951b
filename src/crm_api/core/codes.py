"""Human-facing codes (KH00000042) from a per-series counter row."""

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.tables import CodeCounter


async def next_codes(session: AsyncSession, series: str, count: int, *, width: int = 8) -> list[str]:
    """The next `count` codes of a series in one counter bump; the row is locked until the transaction ends."""
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
