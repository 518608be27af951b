from collections.abc import Iterable

from sqlalchemy import Select, select

from crm_api.core.repository import Repository
from crm_api.models.collaboration import Document

# Bound parameters per statement, well under SQLite's limit.
BATCH = 500


class DocumentRepository(Repository[Document]):
    """Documents of one customer; the data scope is the customer's, which the service checks first."""

    model = Document

    def of_customer(self, customer_id: int) -> Select[Document]:
        return self.select().where(Document.customer_id == customer_id)

    def of_interaction(self, interaction_id: int) -> Select[Document]:
        return self.select().where(Document.interaction_id == interaction_id)

    async def get_of_customer(self, customer_id: int, document_id: int) -> Document | None:
        document: Document | None = await self.session.scalar(self.of_customer(customer_id).where(Document.id == document_id))
        return document

    async def referenced(self, sha256s: Iterable[str]) -> set[str]:
        """Those of the given contents that some document row still names."""
        wanted, found = list(sha256s), set()
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            found |= set(await self.session.scalars(select(Document.sha256).where(Document.sha256.in_(batch)).distinct()))
        return found
