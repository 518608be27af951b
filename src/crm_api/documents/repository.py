from collections.abc import Iterable

from sqlalchemy import Select, select

from crm_api.core.repository import Repository
from crm_api.models.collaboration import Document

# Bound parameters per statement, well under SQLite's limit.
BATCH = 500


class DocumentRepository(Repository[Document]):
    """Documents of one customer or contract; the data scope is that record's, which the service checks first."""

    model = Document

    def attached_to(self, customer_id: int, contract_id: int | None) -> Select[Document]:
        """A contract's documents, or a customer's own (its contracts' are theirs, in the contracts' scope)."""
        if contract_id is not None:
            return self.select().where(Document.contract_id == contract_id)
        return self.select().where(Document.customer_id == customer_id, Document.contract_id.is_(None))

    def of_interaction(self, interaction_id: int) -> Select[Document]:
        return self.select().where(Document.interaction_id == interaction_id)

    async def get_attached(self, customer_id: int, contract_id: int | None, document_id: int) -> Document | None:
        statement = self.attached_to(customer_id, contract_id).where(Document.id == document_id)
        document: Document | None = await self.session.scalar(statement)
        return document

    async def referenced(self, sha256s: Iterable[str]) -> set[str]:
        """Those of the given contents that some document row still names."""
        wanted, found = list(sha256s), set()
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            found |= set(await self.session.scalars(select(Document.sha256).where(Document.sha256.in_(batch)).distinct()))
        return found
