"""An import as the API reads it, and the rows a file carries where they differ from a create body."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import Field, model_validator

from crm_api.core.schemas import ExternalId, OutputModel, Text
from crm_api.customers.schemas import ContactCreate
from crm_api.imports.policy import ImportEntity, ImportMode, ImportStatus


class ContactRow(ContactCreate):
    """A contact and the customer it belongs to, named by the customer's code or external_id."""

    customer_code: Annotated[str, Text(20)] | None = None
    customer_external_id: ExternalId | None = None

    @model_validator(mode="after")
    def _one_customer(self) -> Self:
        if (self.customer_code is None) == (self.customer_external_id is None):
            raise ValueError("give the customer's code or its external_id (one of the two)")
        return self


class ImportRead(OutputModel):
    id: int
    entity: ImportEntity
    mode: ImportMode
    dry_run: bool = Field(description="Checked and reported only: nothing was or will be written")
    status: ImportStatus
    filename: str
    rows_total: int | None = Field(description="Data rows in the file (blank rows skipped); null until counted")
    rows_done: int = Field(description="Rows read so far")
    created: int = Field(description="Rows that created a record (would have, in a dry run or a failed import)")
    updated: int = Field(description="Rows whose external_id matched a record, which they updated")
    failed: int = Field(description="Rows not written; GET …/errors lists why")
    error: str | None = Field(description="Why the whole import failed, beside its row errors")
    created_by_id: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
