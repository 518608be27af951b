"""Customer export as CSV or XLSX, streamed: rows are read in keyset batches, never all at once."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement

from crm_api.core.clock import clock
from crm_api.core.db import Database
from crm_api.core.files import csv_chunks
from crm_api.core.permissions import Principal
from crm_api.core.query import PrefixedParams
from crm_api.core.xlsx import Sheet, workbook_chunks
from crm_api.custom_fields import service as custom_fields
from crm_api.custom_fields import values as field_values
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.customers.columns import EXPORT_COLUMNS, custom_field_header, to_cell
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


# The cells of one customer's row.
Row = Callable[[CustomerRead], list[Any]]


async def _customers(
    database: Database, principal: Principal, filters: CustomerSearch, custom: list[ColumnElement[bool]]
) -> AsyncIterator[CustomerRead]:
    """The customers the principal may read that match the filters, by id, one batch per query.

    A session of its own: the request's unit of work has ended by the time the body streams."""
    after = 0
    async with database.sessionmaker() as session:
        repo = CustomerRepository(session)
        statement = repo.filtered(repo.with_tags(repo.scoped(principal, "customers:read")), filters, custom)
        while True:
            batch = list(await session.scalars(statement.where(Customer.id > after).order_by(Customer.id).limit(BATCH)))
            for customer in batch:
                yield CustomerRead.model_validate(customer)
            if len(batch) < BATCH:
                return
            after = batch[-1].id
            session.expunge_all()


async def _csv_records(customers: AsyncIterator[CustomerRead], header: list[str], row: Row) -> AsyncIterator[list[Any]]:
    yield header
    async for customer in customers:
        yield row(customer)


def _xlsx(customers: AsyncIterator[CustomerRead], header: list[str], row: Row) -> AsyncIterator[bytes]:
    return workbook_chunks([Sheet("customers", _csv_records(customers, header, row), bold_header=False)])


async def export_customers(
    database: Database, principal: Principal, filters: CustomerSearch, custom: PrefixedParams, file_format: ExportFormat
) -> Export:
    """The export of the filtered list the principal may read (checked now, `cf.` filters too; rows are read as the
    body streams): the customer columns, then one per active custom field headed by its label."""
    principal.require("customers:read")
    async with database.sessionmaker() as session:
        rules = await custom_fields.rules_for(session, CustomFieldEntity.CUSTOMER)
    keys = [definition.key for definition in rules.active]
    header = EXPORT_COLUMNS + [custom_field_header(definition.key, definition.label) for definition in rules.active]

    def row(customer: CustomerRead) -> list[Any]:
        cells = [to_cell(customer, column) for column in EXPORT_COLUMNS]
        return cells + [field_values.to_text(customer.custom_fields.get(key)) for key in keys]

    rows = _customers(database, principal, filters, rules.conditions(custom))
    body = csv_chunks(_csv_records(rows, header, row)) if file_format == "csv" else _xlsx(rows, header, row)
    return Export(f"customers-{clock.now().date().isoformat()}.{file_format}", MEDIA_TYPES[file_format], body)
