from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, UploadFile, status
from fastapi.responses import FileResponse

from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import SessionDep
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import Raised, raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import MAX_ID, Id, PlainText
from crm_api.documents import service
from crm_api.documents.exceptions import DocumentTypeNotAllowed
from crm_api.documents.schemas import DocumentRead
from crm_api.documents.service import HolderKind
from crm_api.documents.storage import ALLOWED

router = DomainRouter(prefix="/customers", tags=["documents"])
contract_router = DomainRouter(prefix="/contracts", tags=["documents"])

CustomersRead = Annotated[Principal, Depends(require("customers:read"))]
CustomersWrite = Annotated[Principal, Depends(require("customers:write"))]


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the original UTF-8 name per RFC 5987 / RFC 6266."""
    fallback = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


DocumentPage = Annotated[PageParams, listing("DocumentSort", "filename", "size", "created_at", "updated_at")]


def add_document_routes(
    holder_router: APIRouter,
    kind: HolderKind,
    *,
    read: str,
    write: str,
    changeable: str,
    refusals: tuple[Raised, ...] = (),
    name: str = "",
) -> None:
    """The document routes of one kind of holder, under `/{<kind>_id}/documents`, with operations named
    `<verb>_<name>document(s)`. `changeable` names the holders whose documents may change; `refusals` are what the
    others are refused with."""
    HolderId = Annotated[int, Path(alias=f"{kind}_id", ge=1, le=MAX_ID)]
    Reader = Annotated[Principal, Depends(require(read))]
    Writer = Annotated[Principal, Depends(require(write))]
    base = f"/{{{kind}_id}}/documents"

    @holder_router.get(
        base,
        response_model=Page[DocumentRead],
        name=f"list_{name}documents",
        summary=f"List a {kind}'s documents, newest first",
    )
    async def list_documents(
        holder_id: HolderId, principal: Reader, session: SessionDep, page: DocumentPage
    ) -> Page[DocumentRead]:
        return await service.list_documents(session, principal, kind, holder_id, page)

    @holder_router.post(
        base,
        response_model=DocumentRead,
        status_code=status.HTTP_201_CREATED,
        name=f"upload_{name}document",
        summary=f"Attach a document to {changeable}",
        description=f"{ALLOWED}; the type is read from the content. Larger than `CRM_DOCUMENT_MAX_BYTES`: 413.",
    )
    @raises(DocumentTypeNotAllowed, *refusals)
    async def upload_document(
        holder_id: HolderId,
        principal: Writer,
        session: SessionDep,
        settings: SettingsDep,
        file: Annotated[UploadFile, File(description="The document")],
        description: Annotated[PlainText | None, Form(max_length=500)] = None,
    ) -> DocumentRead:
        upload = service.Upload(file.file, file.filename, description)
        return DocumentRead.model_validate(await service.upload_document(session, principal, settings, kind, holder_id, upload))

    @holder_router.get(
        f"{base}/{{document_id}}",
        response_model=DocumentRead,
        name=f"get_{name}document",
        summary="Get a document's metadata",
    )
    async def get_document(holder_id: HolderId, document_id: Id, principal: Reader, session: SessionDep) -> DocumentRead:
        return DocumentRead.model_validate(await service.get_document(session, principal, kind, holder_id, document_id))

    @holder_router.get(
        f"{base}/{{document_id}}/content",
        response_class=FileResponse,
        name=f"download_{name}document",
        summary="Download a document",
        responses={200: {"content": {"application/octet-stream": {}}, "description": "The file, streamed"}},
    )
    @raises("document_content.not_found")
    async def download_document(
        holder_id: HolderId, document_id: Id, principal: Reader, session: SessionDep, settings: SettingsDep
    ) -> FileResponse:
        document, path = await service.document_content(session, principal, settings, kind, holder_id, document_id)
        return FileResponse(
            path,
            media_type=document.content_type,
            headers={"Content-Disposition": content_disposition(document.filename), "X-Content-Type-Options": "nosniff"},
        )

    @holder_router.delete(
        f"{base}/{{document_id}}",
        status_code=status.HTTP_204_NO_CONTENT,
        name=f"delete_{name}document",
        summary=f"Remove a document from {changeable}",
    )
    @raises(*refusals)
    async def delete_document(holder_id: HolderId, document_id: Id, principal: Writer, session: SessionDep) -> None:
        await service.delete_document(session, principal, kind, holder_id, document_id)


add_document_routes(
    router,
    HolderKind.CUSTOMER,
    read="customers:read",
    write="customers:write",
    changeable="an active customer",
    refusals=("customer.not_active", "privacy.erased"),
)
add_document_routes(
    contract_router,
    HolderKind.CONTRACT,
    read="contracts:read",
    write="contracts:write",
    changeable="a contract",
    name="contract_",
)


@router.post(
    "/{customer_id}/interactions/{interaction_id}/photos",
    response_model=DocumentRead,
    status_code=status.HTTP_201_CREATED,
    summary="Attach a photo to a field visit (an interaction of an active customer)",
    description="PNG or JPEG, read from the file's bytes (not its Content-Type): anything else is 415 "
    "`photo.not_an_image`. Larger than `CRM_PHOTO_MAX_BYTES`: 413. Download it as a document of the customer.",
)
@raises(DocumentTypeNotAllowed, "customer.not_active", "privacy.erased")
async def add_photo(
    customer_id: Id,
    interaction_id: Id,
    principal: CustomersWrite,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The photo")],
    description: Annotated[PlainText | None, Form(max_length=500)] = None,
) -> DocumentRead:
    upload = service.Upload(file.file, file.filename, description)
    return DocumentRead.model_validate(await service.add_photo(session, principal, settings, customer_id, interaction_id, upload))


@router.get(
    "/{customer_id}/interactions/{interaction_id}/photos",
    response_model=Page[DocumentRead],
    summary="List the photos of a field visit, newest first",
)
async def list_photos(
    customer_id: Id, interaction_id: Id, principal: CustomersRead, session: SessionDep, page: DocumentPage
) -> Page[DocumentRead]:
    return await service.list_photos(session, principal, customer_id, interaction_id, page)
