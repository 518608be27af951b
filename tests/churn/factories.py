"""Customers and orders written straight through the ORM (their endpoints belong to other domains)."""

import itertools
from datetime import date, datetime
from decimal import Decimal

from fastapi import FastAPI

from crm_api.core.clock import clock
from crm_api.models.churn import ChurnWarning
from crm_api.models.customer import Customer
from crm_api.models.sales import Order

_sequence = itertools.count(1)


async def make_customer(
    app: FastAPI,
    owner_id: int,
    *,
    name: str | None = None,
    created_at: datetime | None = None,
    status: str = "active",
    deleted_at: datetime | None = None,
    level: str | None = None,
) -> int:
    number = next(_sequence)
    async with app.state.db.sessionmaker() as session, session.begin():
        customer = Customer(
            code=f"KHT{number:05d}",
            name=name or f"Customer {number}",
            owner_id=owner_id,
            status=status,
            deleted_at=deleted_at,
            level=level,
            created_at=created_at or clock.now(),
        )
        session.add(customer)
        await session.flush()
        return customer.id


async def make_order(app: FastAPI, customer_id: int, order_date: date, *, status: int = 6) -> int:
    number = next(_sequence)
    async with app.state.db.sessionmaker() as session, session.begin():
        order = Order(
            external_id=f"ext-{number}",
            number=f"SO{number:06d}",
            customer_id=customer_id,
            order_date=order_date,
            status=status,
            total=Decimal("100.00"),
        )
        session.add(order)
        await session.flush()
        return order.id


async def make_warning(app: FastAPI, customer_id: int, *, status: str = "open") -> int:
    async with app.state.db.sessionmaker() as session, session.begin():
        warning = ChurnWarning(customer_id=customer_id, status=status)
        session.add(warning)
        await session.flush()
        return warning.id
