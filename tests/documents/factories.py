"""Sample files of each accepted kind, and the document routes as a user calls them."""

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from openpyxl import Workbook
from sqlalchemy import select

from crm_api.models.collaboration import Document
from tests.factories import Actor

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"
CSV = "客户名称,电话\n上海华信科技有限公司,021-62345678\n".encode()
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"


def xlsx() -> bytes:
    workbook = Workbook()
    workbook.active.append(["客户名称", "电话"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_of(*members: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in members:
            archive.writestr(member, "<xml/>")
    return buffer.getvalue()


def documents_url(holder_id: int, document_id: int | None = None, *, holder: str = "customers") -> str:
    """The documents of a customer, or of a contract (`holder="contracts"`)."""
    url = f"/api/v1/{holder}/{holder_id}/documents"
    return url if document_id is None else f"{url}/{document_id}"


async def upload(
    client: httpx.AsyncClient,
    actor: Actor | None,
    holder_id: int,
    content: bytes,
    filename: str = "报价单.pdf",
    *,
    holder: str = "customers",
    **form: Any,
) -> httpx.Response:
    return await client.post(
        documents_url(holder_id, holder=holder),
        files={"file": (filename, content, "application/octet-stream")},
        data=form,
        headers=actor.headers if actor else {},
    )


async def all_documents(app: FastAPI) -> list[Document]:
    async with app.state.db.sessionmaker() as session:
        return list((await session.scalars(select(Document).order_by(Document.id))).all())


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
