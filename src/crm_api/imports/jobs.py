"""The runner of queued imports in a long-lived process: the scheduler's, or a worker's with the scheduler on."""

import asyncio
import contextlib
import logging

from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.imports import service

log = logging.getLogger("crm_api.imports")


class ImportRunner:
    """Looks for queued imports every CRM_IMPORT_POLL_SECONDS and runs them; a stop hands the running one back at its
    next chunk."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await service.run_queued(self._database.sessionmaker, self._settings, self._stopping)
            except Exception:
                log.exception("the import runner failed; it tries again at the next poll")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.import_poll_seconds)

    async def stop(self, grace_seconds: float) -> None:
        """Claim nothing more; the import in progress is handed back once its chunk in flight ends. Only one still
        running after `grace_seconds` is cancelled (its chunk rolls back)."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
