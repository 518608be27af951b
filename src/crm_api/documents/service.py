"""Documents of a customer or of a contract: read and changed within that record's data scope (a customer must be
active to change its documents), the same size and type limits, audit."""

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.contracts import service as contracts
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


class HolderKind(StrEnum):
    """What documents are attached to."""

    CUSTOMER = "customer"
    CONTRACT = "contract"


@dataclass(frozen=True)
class Holder:
    """The record a document belongs to: a customer, or a contract (with the contract's customer)."""

    customer_id: int
    contract_id: int | None = None


async def _holder(session: AsyncSession, principal: Principal, kind: HolderKind, holder_id: int, *, write: bool) -> Holder:
    """The holder as the caller may read it, or change its documents (404 outside their scope)."""
    if kind == HolderKind.CONTRACT:
        contract = await (contracts.attachable if write else contracts.get)(session, principal, holder_id)
        return Holder(contract.customer_id, contract.id)
    customer = await (writable_customer if write else get_customer)(session, principal, holder_id)
    return Holder(customer.id)


async def _document_of(session: AsyncSession, holder: Holder, document_id: int) -> Document:
    document = await DocumentRepository(session).get_attached(holder.customer_id, holder.contract_id, document_id)
    if document is None:
        raise NotFound("Document", document_id)
    return document


async def list_documents(
    session: AsyncSession, principal: Principal, kind: HolderKind, holder_id: int, params: PageParams
) -> Page[DocumentRead]:
    holder = await _holder(session, principal, kind, holder_id, write=False)
    repo = DocumentRepository(session)
    documents = repo.attached_to(holder.customer_id, holder.contract_id)
    return (await repo.page(documents, params, NEWEST_FIRST)).to_page(DocumentRead.model_validate)


async def get_document(
    session: AsyncSession, principal: Principal, kind: HolderKind, holder_id: int, document_id: int
) -> Document:
    return await _document_of(session, await _holder(session, principal, kind, holder_id, write=False), document_id)


async def document_content(
    session: AsyncSession, principal: Principal, settings: Settings, kind: HolderKind, holder_id: int, document_id: int
) -> tuple[Document, Path]:
    document = await get_document(session, principal, kind, holder_id, document_id)
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
    holder: Holder,
    interaction_id: int | None = None,
    max_bytes: int,
    accept: Collection[str] | None = None,
) -> Document:
    """Store the file, then add its row in the request's transaction (a failed request leaves no row)."""
    name = clean_filename(upload.filename)
    save = partial(store_of(settings).save, upload.source, filename=name, max_bytes=max_bytes, accept=accept)
    stored = await to_thread.run_sync(save)
    document = Document(
        customer_id=holder.customer_id,
        contract_id=holder.contract_id,
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
    session: AsyncSession, actor: Principal, settings: Settings, kind: HolderKind, holder_id: int, upload: Upload
) -> Document:
    holder = await _holder(session, actor, kind, holder_id, write=True)
    return await _store(session, actor, settings, upload, holder=holder, max_bytes=settings.document_max_bytes)


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
        holder=Holder(customer.id),
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


async def delete_document(session: AsyncSession, actor: Principal, kind: HolderKind, holder_id: int, document_id: int) -> None:
    """Only the row goes: other documents may share the content; the orphan job removes unnamed files."""
    document = await _document_of(session, await _holder(session, actor, kind, holder_id, write=True), document_id)
    await audit.delete_recorded(session, actor=actor, entity_type="document", entity=document)
