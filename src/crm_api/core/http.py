"""HTTP conditional requests: ETag on single-record reads (304 for If-None-Match), If-Match on updates."""

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Header, HTTPException, Response
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_api.core.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="ETag from a previous GET; the update is refused (412) if the record changed"),
]
IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", description="ETag from a previous GET; 304 with no body while the record is unchanged"),
]

R = TypeVar("R", bound=BaseModel)


class HasVersion(Protocol):
    version: Any


def json_of(representation: BaseModel) -> bytes:
    """The representation's JSON as pydantic-core writes it: `model_dump_json()` would decode those bytes to a str that
    the response then encodes back, two passes over a page of records."""
    return representation.__pydantic_serializer__.to_json(representation)


def etag_of(representation: BaseModel) -> str:
    """A versioned record's version; a digest of the body for what the CRM only mirrors (orders)."""
    version = getattr(representation, "version", None)
    if version is not None:
        return f'"{version}"'
    digest = hashlib.sha256(json_of(representation)).hexdigest()[:32]
    return f'"{digest}"'


def with_etag(response: Response, representation: R) -> R:
    response.headers["ETag"] = etag_of(representation)
    return representation


def _names(tag: str, header: str) -> bool:
    """The If-Match / If-None-Match header lists this ETag (or is `*`); weak tags compare by their value."""
    return header.strip() == "*" or tag in {listed.strip().removeprefix("W/") for listed in header.split(",")}


class Rendered(Response):
    """A representation built from rows the service trusts, rendered to JSON once. FastAPI passes a returned Response
    through as it is, so the route's `response_model` (which the contract still documents) does not validate the
    representation a second time."""

    media_type = "application/json"

    def __init__(self, representation: BaseModel, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(json_of(representation), headers=headers)


class ETagged:
    """A single-record GET's dependency: `etag(representation)` sends its ETag, or answers 304 with no body when
    If-None-Match names it already; `etag.rendered(representation)` does the same and renders it once (`Rendered`).
    The contract documents ETag and 304 on every operation that takes it."""

    def __init__(self, response: Response, if_none_match: str | None) -> None:
        self.response = response
        self.if_none_match = if_none_match

    def __call__(self, representation: R) -> R:
        self.response.headers["ETag"] = self._tag(representation)
        return representation

    def rendered(self, representation: BaseModel) -> Rendered:
        return Rendered(representation, {"ETag": self._tag(representation)})

    def _tag(self, representation: BaseModel) -> str:
        tag = etag_of(representation)
        if self.if_none_match is not None and _names(tag, self.if_none_match):
            raise HTTPException(304, headers={"ETag": tag})
        return tag


async def _etagged(response: Response, if_none_match: IfNoneMatch = None) -> ETagged:
    # A function rather than the class itself: FastAPI runs a class dependency in a worker thread, on every request.
    return ETagged(response, if_none_match)


ETag = Annotated[ETagged, Depends(_etagged)]


def path_template(path: str) -> re.Pattern[str]:
    """Matches the paths of an OpenAPI path template: `/customers/{customer_id}` matches `/customers/7`."""
    return re.compile(re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(path)))


def no_store(response: Response) -> None:
    """A route dependency: the response may not be cached anywhere (it carries tokens)."""
    response.headers["Cache-Control"] = "no-store"


def check_if_match(if_match: str | None, record: HasVersion, current: Callable[[], BaseModel] | None = None) -> None:
    """412 when If-Match names another version than the record's, with `current()`, the record as the caller reads
    it, so an offline client can merge without another request; the UPDATE then pins this version. A caller that
    read the record with `FOR UPDATE` (Repository.get_scoped(…, for_update=True)) checks the latest committed one."""
    if if_match is not None and not _names(f'"{record.version}"', if_match):
        extra = {"current": current().model_dump(mode="json")} if current is not None else {}
        raise PreconditionFailed(
            "The record changed since you read it; merge into `current` and send its version",
            code="precondition.etag_mismatch",
            **extra,
        )


class LocationMiddleware:
    """Sends `Location` with a 201 whose body is a record that has its own URL: `{path}/{id}`, when a GET answers there."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Whether a GET answers below a POST route, by its operation id: the same for every record the route creates,
        # and probing every route cost a create a tenth of its instructions.
        self._answered_below: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def locate(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 201:
                held.append(message)
                return
            if not held:
                await send(message)
                return
            held.append(message)
            if message.get("more_body", False):
                return
            start, *body = held
            location = self._record_url(scope, b"".join(part.get("body", b"") for part in body))
            if location is not None:
                MutableHeaders(scope=start).append("Location", location)
            for part in (start, *body):
                await send(part)
            held.clear()

        await self.app(scope, receive, locate)

    def _record_url(self, scope: Scope, body: bytes) -> str | None:
        try:
            record = json.loads(body)
        except ValueError:
            return None
        if not isinstance(record, dict) or not isinstance(record.get("id"), int | str):
            return None
        url = f"{scope['path'].rstrip('/')}/{record['id']}"
        route: str | None = getattr(scope.get("route"), "unique_id", None)
        answers = self._answered_below.get(route) if route is not None else None
        if answers is None:
            probe = {**scope, "path": url, "method": "GET"}
            answers = any(candidate.matches(probe)[0] is Match.FULL for candidate in scope["app"].router.routes)
            if route is not None:
                self._answered_below[route] = answers
        return url if answers else None
