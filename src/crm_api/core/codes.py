"""Human-facing codes (KH00000042) from a per-series counter row."""

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.models.platform import CodeCounter


async def next_code(session: AsyncSession, series: str, *, width: int = 8) -> str:
    """Next code of a series; the counter row is locked until the transaction ends."""
    bumped = await session.scalar(
        update(CodeCounter)
        .where(CodeCounter.series == series)
        .values(last_value=CodeCounter.last_value + 1)
        .returning(CodeCounter.last_value)
    )
    if bumped is None:
        await session.execute(insert(CodeCounter).values(series=series, last_value=1))
        bumped = 1
    return f"{series}{bumped:0{width}d}"

