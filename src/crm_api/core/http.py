"""HTTP conditional requests: ETag on single-record reads, If-Match on updates."""

import hashlib
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Header, Response
from pydantic import BaseModel

from crm_api.core.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="ETag from a previous GET; the update is refused (412) if the record changed"),
]

R = TypeVar("R", bound=BaseModel)


class HasVersion(Protocol):
    version: Any


def etag_of(representation: BaseModel) -> str:
    """A versioned record's version; a digest of the body for what the CRM only mirrors (orders)."""
    version = getattr(representation, "version", None)
    if version is not None:
        return f'"{version}"'
    digest = hashlib.sha256(representation.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def with_etag(response: Response, representation: R) -> R:
    response.headers["ETag"] = etag_of(representation)
    return representation


def no_store(response: Response) -> None:
    """A route dependency: the response may not be cached anywhere (it carries tokens)."""
    response.headers["Cache-Control"] = "no-store"


def check_if_match(if_match: str | None, record: HasVersion) -> None:
    """412 when If-Match names another version than the record's; the UPDATE then pins this one."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if f'"{record.version}"' not in wanted:
        raise PreconditionFailed("The record changed since you read it; GET it again", code="precondition.etag_mismatch")
