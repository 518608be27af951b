"""Data imports: one row per uploaded file, with its progress and the rows it could not write."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.orm import Base, IntPK, Timestamped
from crm_api.core.rules import one_of, status_check
from crm_api.imports.policy import ImportEntity, ImportMode, ImportStatus


class DataImport(Timestamped, Base):
    __tablename__ = "imports"
    __table_args__ = (
        status_check(ImportStatus),
        CheckConstraint(one_of("entity", ImportEntity), name="entity_known"),
        CheckConstraint(one_of("mode", ImportMode), name="mode_known"),
        # The runners' queue: the oldest queued import first.
        Index("ix_imports_status_id", "status", "id"),
        Index("ix_imports_created_by_id_id", "created_by_id", "id"),
    )

    id: Mapped[IntPK]
    entity: Mapped[ImportEntity] = mapped_column(String(20))
    mode: Mapped[ImportMode] = mapped_column(String(20))
    dry_run: Mapped[bool]
    status: Mapped[ImportStatus] = mapped_column(String(16), default=ImportStatus.QUEUED)
    filename: Mapped[str] = mapped_column(String(255))
    # The upload in the document directory while it waits or runs; removed once the import finishes.
    stored_path: Mapped[str | None] = mapped_column(String(500))
    rows_total: Mapped[int | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    # Why the whole import failed (an unreadable file, a crash), beside its row errors.
    error: Mapped[str | None] = mapped_column(String(2000))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class ImportRowError(Base):
    """A row of the file that was not written: where (row, column), what it held and why."""

    __tablename__ = "import_row_errors"
    __table_args__ = (Index("ix_import_row_errors_import_id_row", "import_id", "row"),)

    id: Mapped[IntPK]
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    row: Mapped[int]
    column: Mapped[str] = mapped_column(String(100))
    value: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(1000))
