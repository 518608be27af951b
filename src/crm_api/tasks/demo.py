"""Demo tasks of an account manager: one overdue, one about a customer, one done. Idempotent."""

from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.churn.demo import demo_principal
from crm_api.core.clock import clock
from crm_api.customers.demo import is_demo_customer
from crm_api.models.collaboration import Task
from crm_api.models.customer import Customer
from crm_api.models.identity import User
from crm_api.tasks.policy import TaskPriority
from crm_api.tasks.schemas import TaskCreate
from crm_api.tasks.service import complete_task, create_task


async def seed_tasks(session: AsyncSession, users: dict[str, User]) -> None:
    manager = users["li.na"]
    if await session.scalar(select(exists().where(Task.created_by_id == manager.id))):
        return
    actor = await demo_principal(session, manager)
    now = clock.now()
    customer_id = await session.scalar(
        select(Customer.id)
        .where(is_demo_customer(), Customer.owner_id == manager.id, Customer.status == "active")
        .order_by(Customer.id)
    )
    await create_task(
        session, actor, TaskCreate(title="整理上月拜访纪要", due_at=now - timedelta(days=2), priority=TaskPriority.HIGH)
    )
    if customer_id is not None:
        await create_task(
            session,
            actor,
            TaskCreate(
                title="电话确认年度框架合同条款",
                due_at=now + timedelta(days=3),
                related_type="customer",
                related_id=customer_id,
            ),
        )
    done = (await create_task(session, actor, TaskCreate(title="发送新版产品目录", due_at=now - timedelta(days=5)))).record
    await complete_task(session, actor, done.id)
