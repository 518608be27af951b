"""The daily sweep of the document store: files no document row names any more."""

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job
from crm_api.documents.repository import DocumentRepository
from crm_api.documents.service import store_of

# Younger files may belong to an upload whose transaction has not committed yet.
GRACE = timedelta(days=1)


@register_job("document_orphans", cron=lambda s: "30 4 * * *")
async def remove_orphan_files(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    stale = list(store_of(settings).stale_files(older_than=(clock.now() - GRACE).timestamp()))
    referenced = await DocumentRepository(session).referenced(sha for _, sha in stale if sha is not None)
    removed = 0
    for path, sha256 in stale:
        if sha256 not in referenced:
            path.unlink(missing_ok=True)
            removed += 1
    return {"removed": removed}
