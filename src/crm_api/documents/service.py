"""Documents of a customer: the customer's data scope, active customers only for changes, audit."""

from collections.abc import Collection
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.config import Settings
from crm_api.core.errors import NotFound
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.customers.service import INTERACTIONS, get_customer, get_record, writable_customer
from crm_api.documents.repository import DocumentRepository
from crm_api.documents.schemas import DocumentRead
from crm_api.documents.storage import DocumentStore
from crm_api.models.collaboration import Document

NEWEST_FIRST = Sort([Document.id])
DEFAULT_FILENAME = "document"


def store_of(settings: Settings) -> DocumentStore:
    return DocumentStore(settings.document_dir)


def clean_filename(filename: str | None) -> str:
    """The name without any client path (browsers may send C:\\fakepath\\…) or control characters."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[-255:] or DEFAULT_FILENAME


async def _document_of(session: AsyncSession, customer_id: int, document_id: int) -> Document:
    document = await DocumentRepository(session).get_of_customer(customer_id, document_id)
    if document is None:
        raise NotFound("Document", document_id)
    return document


async def list_documents(session: AsyncSession, principal: Principal, customer_id: int, params: PageParams) -> Page[DocumentRead]:
    customer = await get_customer(session, principal, customer_id)
    repo = DocumentRepository(session)
    documents, next_cursor, total = await repo.page(repo.of_customer(customer.id), params, NEWEST_FIRST)
    return Page(items=[DocumentRead.model_validate(d) for d in documents], next_cursor=next_cursor, total=total)


async def get_document(session: AsyncSession, principal: Principal, customer_id: int, document_id: int) -> Document:
    customer = await get_customer(session, principal, customer_id)
    return await _document_of(session, customer.id, document_id)


async def document_content(
    session: AsyncSession, principal: Principal, settings: Settings, customer_id: int, document_id: int
) -> tuple[Document, Path]:
    document = await get_document(session, principal, customer_id, document_id)
    path = store_of(settings).path_of(document.sha256)
    if not path.is_file():
        raise NotFound("Document content", document_id)
    return document, path


@dataclass(frozen=True)
class Upload:
    source: BinaryIO
    filename: str | None
    description: str | None


async def _store(
    session: AsyncSession,
    actor: Principal,
    settings: Settings,
    upload: Upload,
    *,
    customer_id: int,
    interaction_id: int | None = None,
    max_bytes: int,
    accept: Collection[str] | None = None,
) -> Document:
    """Store the file, then add its row in the request's transaction (a failed request leaves no row)."""
    name = clean_filename(upload.filename)
    save = partial(store_of(settings).save, upload.source, filename=name, max_bytes=max_bytes, accept=accept)
    stored = await to_thread.run_sync(save)
    document = Document(
        customer_id=customer_id,
        interaction_id=interaction_id,
        filename=name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        description=(upload.description or "").strip() or None,
        uploaded_by_id=actor.user_id,
    )
    session.add(document)
    await audit.record_change(session, actor=actor, entity_type="document", entity=document, action="create", before=None)
    return document


async def upload_document(
    session: AsyncSession, actor: Principal, settings: Settings, customer_id: int, upload: Upload
) -> Document:
    customer = await writable_customer(session, actor, customer_id)
    return await _store(session, actor, settings, upload, customer_id=customer.id, max_bytes=settings.document_max_bytes)


# Photos of a field visit (外勤拜访): images only, read from their bytes, attached to the interaction.
PHOTO_TYPES = ("image/jpeg", "image/png")


async def add_photo(
    session: AsyncSession, actor: Principal, settings: Settings, customer_id: int, interaction_id: int, upload: Upload
) -> Document:
    customer = await writable_customer(session, actor, customer_id)
    interaction = await get_record(session, actor, INTERACTIONS, customer.id, interaction_id)
    return await _store(
        session,
        actor,
        settings,
        upload,
        customer_id=customer.id,
        interaction_id=interaction.id,
        max_bytes=settings.photo_max_bytes,
        accept=PHOTO_TYPES,
    )


async def list_photos(
    session: AsyncSession, principal: Principal, customer_id: int, interaction_id: int, params: PageParams
) -> Page[DocumentRead]:
    interaction = await get_record(session, principal, INTERACTIONS, customer_id, interaction_id)
    repo = DocumentRepository(session)
    return (await repo.page(repo.of_interaction(interaction.id), params, NEWEST_FIRST)).to_page(DocumentRead.model_validate)


async def delete_document(session: AsyncSession, actor: Principal, customer_id: int, document_id: int) -> None:
    """Only the row goes: other documents may share the content; the orphan job removes unnamed files."""
    customer = await writable_customer(session, actor, customer_id)
    document = await _document_of(session, customer.id, document_id)
    await audit.delete_recorded(session, actor=actor, entity_type="document", entity=document)
