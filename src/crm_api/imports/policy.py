"""The vocabulary of a data import: what it imports, how it treats bad rows, where it stands."""

from enum import StrEnum

from sqlalchemy import ColumnElement

from crm_api.core.permissions import Principal


class ImportEntity(StrEnum):
    CUSTOMERS = "customers"
    CONTACTS = "contacts"
    LEADS = "leads"
    OPPORTUNITIES = "opportunities"
    PRODUCTS = "products"


class ImportMode(StrEnum):
    # Any invalid row and nothing is written.
    ALL_OR_NOTHING = "all_or_nothing"
    # The valid rows are written; the others are reported.
    VALID_ROWS_ONLY = "valid_rows_only"


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    # Every row was read; `failed` counts the rows that were not written.
    SUCCEEDED = "succeeded"
    # Nothing was written: all_or_nothing met an invalid row, or the file could not be read.
    FAILED = "failed"


def visible(principal: Principal, _permission: str) -> ColumnElement[bool]:
    """An import is its importer's: another user's is a 404."""
    from crm_api.models.imports import DataImport

    return DataImport.created_by_id == principal.user_id
