from collections.abc import Iterable

from sqlalchemy import select

from crm_api.customers.repository import CustomerRecordRepository
from crm_api.models.collaboration import Document

# Bound parameters per statement, well under SQLite's limit.
BATCH = 500


class DocumentRepository(CustomerRecordRepository[Document]):
    model = Document

    async def referenced(self, sha256s: Iterable[str]) -> set[str]:
        """Those of the given contents that some document row still names."""
        wanted, found = list(sha256s), set()
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            found |= set(await self.session.scalars(select(Document.sha256).where(Document.sha256.in_(batch)).distinct()))
        return found
