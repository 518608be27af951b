"""Demo sales targets (issue #16): each account manager's and each team's target for the last six months, set by
the admin. Idempotent: a month that has its target already is left as it is."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.churn.demo import demo_principal
from crm_api.core.clock import clock
from crm_api.models.identity import User
from crm_api.models.target import SalesTarget
from crm_api.targets import service
from crm_api.targets.schemas import SalesTargetCreate

PERSONAL = {"li.na": "150000.00", "wang.fang": "120000.00", "liu.yang": "100000.00"}
# A team's own target, set apart from its members'.
TEAM_OF = {"zhang.wei": "300000.00", "zhao.lei": "150000.00"}
MONTHS = 6


async def seed_targets(session: AsyncSession, users: dict[str, User]) -> None:
    admin = await demo_principal(session, users["admin"])
    month = clock.now().date().replace(day=1)
    set_already = {
        tuple(row) for row in await session.execute(select(SalesTarget.user_id, SalesTarget.team_id, SalesTarget.month))
    }
    wanted: list[tuple[int | None, int | None, Decimal]] = [
        (users[name].id, None, Decimal(amount)) for name, amount in PERSONAL.items()
    ]
    wanted += [(None, users[name].team_id, Decimal(amount)) for name, amount in TEAM_OF.items()]
    for _ in range(MONTHS):
        for user_id, team_id, amount in wanted:
            if (user_id, team_id, month) not in set_already:
                data = SalesTargetCreate(month=month, user_id=user_id, team_id=team_id, amount=amount)
                await service.create_target(session, admin, data)
        month = (month - timedelta(days=1)).replace(day=1)  # the month before
