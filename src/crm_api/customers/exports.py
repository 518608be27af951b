"""Customer export as CSV or XLSX, streamed: rows are read in keyset batches, never all at once."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook

from crm_api.core.clock import clock
from crm_api.core.db import Database
from crm_api.core.files import csv_chunks, safe_row, saved_workbook_chunks
from crm_api.core.permissions import Principal
from crm_api.customers.columns import EXPORT_COLUMNS, to_cell
from crm_api.customers.repository import CustomerRepository
from crm_api.customers.schemas import CustomerRead, CustomerSearch, ExportFormat
from crm_api.models.customer import Customer

BATCH = 1_000
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    body: AsyncIterator[bytes]


async def _customers(database: Database, principal: Principal, filters: CustomerSearch) -> AsyncIterator[CustomerRead]:
    """The customers the principal may read that match the filters, by id, one batch per query.

    A session of its own: the request's unit of work has ended by the time the body streams."""
    after = 0
    async with database.sessionmaker() as session:
        repo = CustomerRepository(session)
        statement = repo.filtered(repo.with_tags(repo.scoped(principal, "customers:read")), filters)
        while True:
            batch = list(await session.scalars(statement.where(Customer.id > after).order_by(Customer.id).limit(BATCH)))
            for customer in batch:
                yield CustomerRead.model_validate(customer)
            if len(batch) < BATCH:
                return
            after = batch[-1].id
            session.expunge_all()


async def _csv_records(customers: AsyncIterator[CustomerRead]) -> AsyncIterator[list[Any]]:
    yield EXPORT_COLUMNS
    async for customer in customers:
        yield [to_cell(customer, column) for column in EXPORT_COLUMNS]


async def _xlsx(customers: AsyncIterator[CustomerRead]) -> AsyncIterator[bytes]:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("customers")
    sheet.append(EXPORT_COLUMNS)
    async for customer in customers:
        sheet.append(safe_row(to_cell(customer, column) for column in EXPORT_COLUMNS))
    for chunk in saved_workbook_chunks(workbook):
        yield chunk


def export_customers(database: Database, principal: Principal, filters: CustomerSearch, file_format: ExportFormat) -> Export:
    """The export of the filtered list the principal may read (checked now; rows are read as the body streams)."""
    principal.require("customers:read")
    rows = _customers(database, principal, filters)
    body = csv_chunks(_csv_records(rows)) if file_format == "csv" else _xlsx(rows)
    return Export(f"customers-{clock.now().date().isoformat()}.{file_format}", MEDIA_TYPES[file_format], body)
