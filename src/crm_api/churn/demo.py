"""Demo churn warnings: one open, one postponed with measures, one confirmed. Idempotent."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import principal_for_user
from crm_api.churn.policy import ChurnWarningStatus
from crm_api.churn.schemas import ConfirmChurn, MeasureCreate
from crm_api.churn.service import add_measure, confirm
from crm_api.core.clock import clock
from crm_api.core.codes import next_code
from crm_api.core.config import Settings
from crm_api.core.permissions import Principal
from crm_api.models.churn import ChurnWarning
from crm_api.models.customer import Customer
from crm_api.models.identity import User


async def demo_customer(
    session: AsyncSession, external_id: str, name: str, owner: User, *, level: str = "regular", age_days: int = 730
) -> tuple[Customer, bool]:
    """The demo customer with this external id, and whether it was created just now."""
    customer = await session.scalar(select(Customer).where(Customer.external_id == external_id))
    if customer is not None:
        return customer, False
    customer = Customer(
        code=await next_code(session, "KH"),
        external_id=external_id,
        name=name,
        owner_id=owner.id,
        level=level,
        created_at=clock.now() - timedelta(days=age_days),
        created_by_id=owner.id,
    )
    session.add(customer)
    await session.flush()
    return customer, True


async def demo_principal(session: AsyncSession, user: User) -> Principal:
    found = await principal_for_user(session, user.id)
    assert found is not None  # demo users are active
    return found[0]


async def seed_churn(session: AsyncSession, settings: Settings, users: dict[str, User]) -> None:
    plans = [
        ("demo-churn-open", "杭州西湖电子有限公司", "li.na", None),
        (
            "demo-churn-postponed",
            "苏州精密机械股份有限公司",
            "wang.fang",
            ["电话回访，了解到客户预算收紧", "提供下一季度九折优惠方案"],
        ),
        ("demo-churn-confirmed", "广州白云贸易有限公司", "liu.yang", ["上门拜访，客户已转向竞争对手"]),
    ]
    for external_id, name, owner_name, measures in plans:
        owner = users[owner_name]
        customer, created = await demo_customer(session, external_id, name, owner)
        if not created:
            continue
        # Orders come from the sales system: these customers have none, so their age raised the warning.
        warning = ChurnWarning(customer_id=customer.id, status=ChurnWarningStatus.OPEN)
        session.add(warning)
        await session.flush()
        principal = await demo_principal(session, owner)
        for measure in measures or []:
            await add_measure(session, principal, settings, warning.id, MeasureCreate(measure=measure))
        if external_id == "demo-churn-confirmed":
            await confirm(session, principal, settings, warning.id, ConfirmChurn(reason="客户业务转型，不再采购我司产品"))
