"""A small fixed data set whose report figures are worked out by hand in the tests."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.models.churn import ChurnWarning
from crm_api.models.customer import Contact, Customer
from crm_api.models.pipeline import Opportunity
from crm_api.models.sales import Order
from crm_api.models.ticket import ServiceTicket, TicketFeedback
from tests.factories import Actor, Actors

_serial = count(1)


async def add_customer(session: AsyncSession, *, name: str, owner_id: int, **fields: object) -> Customer:
    number = next(_serial)
    customer = Customer(code=f"C{number:06d}", name=name, owner_id=owner_id, **fields)
    session.add(customer)
    await session.flush()
    return customer


async def add_order(session: AsyncSession, customer: Customer, *, on: date, total: str, status: int = 6) -> Order:
    number = next(_serial)
    order = Order(
        external_id=f"ext-{number}",
        number=f"SO{number:06d}",
        customer_id=customer.id,
        order_date=on,
        status=status,
        total=Decimal(total),
    )
    session.add(order)
    await session.flush()
    return order


async def add_contact(session: AsyncSession, customer: Customer, *, name: str, **fields: object) -> Contact:
    values: dict[str, object] = {"gender": "female", "title": "经理", "office_phone": "021-12345678"} | fields
    contact = Contact(customer_id=customer.id, name=name, **values)
    session.add(contact)
    await session.flush()
    return contact


@dataclass
class ReportWorld:
    supervisor: Actor  # of team East: li.na's customers only
    executive: Actor
    east_manager: Actor
    south_manager: Actor
    customers: dict[str, Customer]


async def report_world(app: FastAPI, actors: Actors) -> ReportWorld:
    """Team East (li.na): 华通 (two spellings apart), Acme, 零单; team South (wang.fang): 上海华通, 北方贸易 (churned).

    上海华通 (the name of 上海华通有限公司) and Acme (its phone) are duplicates from before the duplicate guard,
    marked as its migration marks them: what the data-quality report counts.

    Completed orders (status 5/6) by customer and month:
      上海华通有限公司 (East) 2025-12 50.00 · 2026-01 100.10 · 2026-03 0.10 + 0.20   (+ a status-3 order of 999.00)
      上海华通 (South)        2025-06 10.00 · 2026-02 200.00
      Acme Co., Ltd. (East)   2025-05 300.00
      北方贸易 (South)        2026-01 20.00
      零单客户 (East)         none
    """
    supervisor = await actors.make("sales_supervisor", team="East")
    east = await actors.make("account_manager", team="East", username="li.na")
    south = await actors.make("account_manager", team="South", username="wang.fang")
    executive = await actors.make("executive")
    async with app.state.db.sessionmaker() as session, session.begin():
        huatong = await add_customer(
            session,
            name="上海华通有限公司",
            owner_id=east.id,
            level="major",
            credit=5,
            satisfaction=4,
            phone="13800000001",
            phone_e164="+8613800000001",
            email="info@huatong.cn",
            region="shanghai",
        )
        huatong_south = await add_customer(
            session,
            name="上海华通",
            owner_id=south.id,
            level="regular",
            credit=3,
            phone="13800000002",
            phone_e164="+8613800000002",
            region="shanghai",
            legacy_duplicate=True,
        )
        acme = await add_customer(
            session,
            name="Acme Co., Ltd.",
            owner_id=east.id,
            satisfaction=5,
            phone="13800000001",
            phone_e164="+8613800000001",
            region="  ",
            email=" INFO@huatong.cn",
            legacy_duplicate=True,
        )
        northern = await add_customer(
            session,
            name="北方贸易",
            owner_id=south.id,
            level="major",
            credit=2,
            status="churned",
            region="beijing",
        )
        no_orders = await add_customer(
            session,
            name="零单客户",
            owner_id=east.id,
            level="regular",
            credit=3,
            satisfaction=3,
            region="shanghai",
        )
        await add_order(session, huatong, on=date(2025, 12, 31), total="50.00")
        await add_order(session, huatong, on=date(2026, 1, 15), total="100.10")
        await add_order(session, huatong, on=date(2026, 2, 1), total="999.00", status=3)
        await add_order(session, huatong, on=date(2026, 3, 2), total="0.10", status=5)
        await add_order(session, huatong, on=date(2026, 3, 20), total="0.20", status=5)
        await add_order(session, huatong_south, on=date(2025, 6, 1), total="10.00", status=5)
        await add_order(session, huatong_south, on=date(2026, 2, 10), total="200.00")
        await add_order(session, acme, on=date(2025, 5, 5), total="300.00")
        await add_order(session, northern, on=date(2026, 1, 20), total="20.00", status=5)

        await add_contact(session, huatong, name="王经理", mobile="13900000001", email="wang@huatong.cn")
        await add_contact(session, huatong, name="赵会计", email=" ")
        await add_contact(session, huatong_south, name="钱总", mobile="13900000003")
        customers = {
            "huatong": huatong,
            "huatong_south": huatong_south,
            "acme": acme,
            "northern": northern,
            "no_orders": no_orders,
        }
    return ReportWorld(supervisor=supervisor, executive=executive, east_manager=east, south_manager=south, customers=customers)


async def add_ticket(
    session: AsyncSession,
    customer: Customer,
    *,
    service_type: str,
    created_at: datetime,
    handled_after: timedelta | None = None,
    archived_after: timedelta | None = None,
    response_within: timedelta | None = None,
    resolve_within: timedelta | None = None,
    satisfactions: tuple[int, ...] = (),
    author_id: int,
) -> ServiceTicket:
    number = next(_serial)
    ticket = ServiceTicket(
        code=f"T{number:06d}",
        service_type=service_type,
        summary="工单",
        customer_id=customer.id,
        channel="phone",
        content="内容",
        status="archived" if archived_after else "handled" if handled_after else "new",
        created_by_id=author_id,
        created_at=created_at,
        first_handled_at=created_at + handled_after if handled_after else None,
        archived_at=created_at + archived_after if archived_after else None,
        response_due_at=created_at + response_within if response_within else None,
        resolve_due_at=created_at + resolve_within if resolve_within else None,
    )
    session.add(ticket)
    await session.flush()
    for satisfaction in satisfactions:
        session.add(TicketFeedback(ticket_id=ticket.id, author_id=author_id, result="反馈", satisfaction=satisfaction))
    await session.flush()
    return ticket


async def add_churn_warning(
    session: AsyncSession,
    customer: Customer,
    *,
    status: str = "confirmed",
    confirmed_at: datetime | None = None,
    reason: str | None = None,
    last_order: date | None = None,
    by: int | None = None,
) -> ChurnWarning:
    warning = ChurnWarning(
        customer_id=customer.id,
        status=status,
        confirmed_at=confirmed_at,
        confirm_reason=reason,
        last_order_date_at_open=last_order,
        confirmed_by_id=by,
    )
    session.add(warning)
    await session.flush()
    return warning


async def add_opportunity(
    session: AsyncSession,
    *,
    stage: str,
    status: str,
    created_by: int,
    created_at: datetime,
    assignee: int | None = None,
    assigned_at: datetime | None = None,
    closed_at: datetime | None = None,
    amount: str | None = None,
) -> Opportunity:
    number = next(_serial)
    opportunity = Opportunity(
        code=f"O{number:06d}",
        customer_name=f"机会客户{number}",
        success_probability=50,
        summary="机会",
        description="描述",
        stage=stage,
        status=status,
        created_by_id=created_by,
        created_at=created_at,
        assignee_id=assignee,
        assigned_at=assigned_at,
        closed_at=closed_at,
        expected_amount=Decimal(amount) if amount is not None else None,
    )
    session.add(opportunity)
    await session.flush()
    return opportunity
