"""The document store: files on the local filesystem named by their sha256, written atomically.

A file lands before the request's transaction commits, so a failed request can leave a file no row
names. Such orphans are harmless (nothing links to them) and the `document_orphans` job removes them.
"""

import codecs
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from crm_api.core.errors import InvalidInput, PayloadTooLarge
from crm_api.documents.exceptions import DocumentTypeNotAllowed

CHUNK_BYTES = 64 * 1024
SNIFF_BYTES = 8 * 1024
TEMP_PREFIX = ".upload-"
SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
ZIP_SIGNATURE = b"PK\x03\x04"
# Office Open XML files are zip archives; the part that makes each kind what it is.
OFFICE_PARTS = {
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
ALLOWED = "PDF, PNG, JPEG, XLSX, DOCX, CSV or plain text"


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)  # the head may cut a character
        except UnicodeDecodeError:
            continue
        return True
    return False


def _office_type(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        return None
    return next((media for part, media in OFFICE_PARTS.items() if part in names), None)


def sniff(head: bytes, path: Path, filename: str) -> str:
    """The media type from the content itself (the client's Content-Type is not trusted)."""
    for magic, media in SIGNATURES:
        if head.startswith(magic):
            return media
    media_type = _office_type(path) if head.startswith(ZIP_SIGNATURE) else None
    if media_type is None and not head.startswith(ZIP_SIGNATURE) and _is_text(head):
        media_type = "text/csv" if filename.lower().endswith(".csv") else "text/plain"
    if media_type is None:
        raise DocumentTypeNotAllowed(f"Only {ALLOWED} files are accepted")
    return media_type


class DocumentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def save(self, source: BinaryIO, *, filename: str, max_bytes: int, accept: Collection[str] | None = None) -> StoredFile:
        """Copy the upload into the store; nothing stays behind when it is too large or of a refused type. `accept`:
        the media types wanted (read from the content), when not every document type is."""
        self.root.mkdir(parents=True, exist_ok=True)
        descriptor, temp_name = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX)
        temp = Path(temp_name)
        try:
            digest, size, head = hashlib.sha256(), 0, b""
            with os.fdopen(descriptor, "wb") as out:
                while chunk := source.read(CHUNK_BYTES):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(f"The file is larger than {max_bytes} bytes")
                    head += chunk[: SNIFF_BYTES - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise InvalidInput("file", "The file is empty", code="document.empty")
            content_type = sniff(head, temp, filename)
            if accept is not None and content_type not in accept:
                raise DocumentTypeNotAllowed(f"Only {', '.join(sorted(accept))} is accepted here", code="photo.not_an_image")
            target = self.path_of(digest.hexdigest())
            target.parent.mkdir(exist_ok=True)
            os.replace(temp, target)  # atomic: readers see the whole file or none
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return StoredFile(sha256=digest.hexdigest(), size=size, content_type=content_type)

    def stale_files(self, *, older_than: float) -> Iterator[tuple[Path, str | None]]:
        """Stored files and leftover temp files last written before `older_than` (epoch seconds), with
        the sha256 a stored file is named by (None for a temp file)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob(f"{TEMP_PREFIX}*"):
            if path.stat().st_mtime < older_than:
                yield path, None
        for path in self.root.glob("??/*"):
            if path.is_file() and path.stat().st_mtime < older_than:
                yield path, path.name
