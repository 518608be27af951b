"""Demo data for `make run`: people of every role first, then each domain's records. Idempotent."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.churn.demo import seed_churn
from crm_api.contracts.demo import seed_deals
from crm_api.core.config import get_settings
from crm_api.core.security import fingerprint
from crm_api.customers.demo import seed_customers
from crm_api.marketing.demo import seed_marketing
from crm_api.models.identity import ApiKey, Role, Team, User
from crm_api.opportunities.demo import seed_pipeline
from crm_api.privacy.demo import seed_privacy
from crm_api.sales.demo import seed_sales
from crm_api.targets.demo import seed_targets
from crm_api.tasks.demo import seed_tasks
from crm_api.tickets.demo import seed_service
from crm_api.users.schemas import TeamCreate, UserCreate
from crm_api.users.service import create_team, create_user
from crm_api.webhooks.demo import seed_webhooks

DEMO_PASSWORD = "crm-demo-2026"
# A known integrator key, only ever created by the demo seed.
DEMO_API_KEY = "crm_demo-integrator-key-not-for-production"

DEMO_TEAMS = ["华东销售部", "华南销售部"]
# username, full name, role, team index
DEMO_USERS = [
    ("admin", "系统管理员 Admin", "admin", None),
    ("exec", "高管 Chen Executive", "executive", None),
    ("zhang.wei", "张伟", "sales_supervisor", 0),
    ("li.na", "李娜", "account_manager", 0),
    ("wang.fang", "王芳", "account_manager", 0),
    ("zhao.lei", "赵磊", "sales_supervisor", 1),
    ("liu.yang", "刘洋", "account_manager", 1),
    ("sun.li", "孙丽", "marketer", None),
]


async def _teams(session: AsyncSession) -> list[Team]:
    teams = []
    for name in DEMO_TEAMS:
        team = await session.scalar(select(Team).where(Team.name == name))
        teams.append(team or await create_team(session, None, TeamCreate(name=name)))
    return teams


async def seed_people(session: AsyncSession) -> dict[str, User]:
    teams = await _teams(session)
    users = {}
    for username, full_name, role, team_index in DEMO_USERS:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            team_id = teams[team_index].id if team_index is not None else None
            data = UserCreate(username=username, full_name=full_name, password=DEMO_PASSWORD, roles=[role], team_id=team_id)
            user = await create_user(session, None, data)
        users[username] = user
    if await session.scalar(select(ApiKey).where(ApiKey.key_hash == fingerprint(DEMO_API_KEY))) is None:
        integrator = await session.scalar(select(Role).where(Role.code == "integrator"))
        session.add(
            ApiKey(name="demo sales system", prefix=DEMO_API_KEY[:12], key_hash=fingerprint(DEMO_API_KEY), role=integrator)
        )
    await session.flush()
    return users


async def seed_demo(session: AsyncSession) -> None:
    users = await seed_people(session)
    await seed_customers(session, users)
    await seed_pipeline(session, users)  # a won opportunity is a customer
    await seed_churn(session, get_settings(), users)
    await seed_service(session, users)
    await seed_tasks(session, users)
    await seed_webhooks(session, users)
    await seed_privacy(session)  # after every domain that adds contacts
    # Last: orders go to the customers that exist by then, so a second seed finds nothing new.
    await seed_sales(session)
    await seed_marketing(session, get_settings(), users)  # after the orders: RFM scores come from them
    await seed_deals(session, get_settings(), users)  # quotes price the products the sales system sent
    await seed_targets(session, users)


def demo_logins() -> list[tuple[str, str, str]]:
    return [(username, DEMO_PASSWORD, role) for username, _, role, _ in DEMO_USERS]
