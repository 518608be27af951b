from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, insert, or_, select, update

from crm_api.core.clock import clock
from crm_api.core.repository import Repository
from crm_api.imports import policy
from crm_api.imports.policy import ImportStatus
from crm_api.models.imports import DataImport, ImportRowError

ERROR_BATCH = 1_000


class ImportRepository(Repository[DataImport]):
    model = DataImport
    visible = staticmethod(policy.visible)

    async def claim_next(self, abandoned_before: datetime) -> int | None:
        """The oldest import waiting for a runner, now running; None when none waits.

        Waiting: queued, or running without progress since `abandoned_before` (the process running it stopped).
        The row lock (skipped by other runners on PostgreSQL) and the compare-and-set on the status and progress
        make the claim exactly once across processes: a runner that lost the race for a row moves on to the next.
        """
        waiting = or_(
            DataImport.status == ImportStatus.QUEUED,
            and_(DataImport.status == ImportStatus.RUNNING, DataImport.updated_at < abandoned_before),
        )
        while True:
            candidate = (
                await self.session.execute(
                    select(DataImport.id, DataImport.updated_at)
                    .where(waiting)
                    .order_by(DataImport.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if candidate is None:
                return None
            result = await self.session.execute(
                update(DataImport)
                .where(DataImport.id == candidate.id, DataImport.updated_at == candidate.updated_at, waiting)
                .values(status=ImportStatus.RUNNING, started_at=clock.now(), updated_at=clock.now())
            )
            if cast("CursorResult[Any]", result).rowcount == 1:
                return int(candidate.id)

    async def save(self, import_id: int, **values: Any) -> None:
        await self.session.execute(update(DataImport).where(DataImport.id == import_id).values(**values, updated_at=clock.now()))

    async def add_errors(self, import_id: int, errors: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(errors), ERROR_BATCH):
            rows = [error | {"import_id": import_id} for error in errors[start : start + ERROR_BATCH]]
            await self.session.execute(insert(ImportRowError), rows)

    async def count_errors(self, import_id: int) -> int:
        return int(await self.session.scalar(select(func.count()).where(ImportRowError.import_id == import_id)) or 0)

    async def errors_of(self, import_id: int) -> AsyncIterator[ImportRowError]:
        """The import's row errors in file order, read in batches."""
        after = 0
        while True:
            batch = list(
                await self.session.scalars(
                    select(ImportRowError)
                    .where(ImportRowError.import_id == import_id, ImportRowError.id > after)
                    .order_by(ImportRowError.id)
                    .limit(ERROR_BATCH)
                )
            )
            for error in batch:
                yield error
            if len(batch) < ERROR_BATCH:
                return
            after = batch[-1].id
            self.session.expunge_all()
