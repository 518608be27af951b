"""HTTP conditional requests: ETag on single-record reads, If-Match on updates."""

import hashlib
from typing import Annotated

from fastapi import Header, Response
from pydantic import BaseModel

from crm_api.core.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="ETag from a previous GET; the update is refused (412) if the record changed"),
]


def etag_of(representation: BaseModel) -> str:
    digest = hashlib.sha256(representation.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def with_etag(response: Response, representation: BaseModel) -> BaseModel:
    response.headers["ETag"] = etag_of(representation)
    return representation


def check_if_match(if_match: str | None, current: BaseModel) -> None:
    """412 when the client's If-Match names another version than the current representation."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if etag_of(current) not in wanted:
        raise PreconditionFailed("The record changed since you read it; GET it again", code="precondition.etag_mismatch")
