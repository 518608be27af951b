"""The problem catalogue: a problem's `type` URI is a page here, and the API lists every code."""

from html import escape
from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from crm_api.core.errors import PROBLEMS_URL, NotFound
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import OutputModel
from crm_api.problems.catalogue import ProblemType, catalogue, lookup

router = DomainRouter(prefix="/problems", tags=["problems"])
# The `type` URIs themselves, outside the API prefix: what a person following one from an error reads.
pages_router = DomainRouter(prefix=PROBLEMS_URL, include_in_schema=False)


class ProblemTypeRead(OutputModel):
    code: str = Field(description="`{name}` stands for any word: `{entity}.not_found` covers `customer.not_found`")
    type: str = Field(description="The `type` of the problems with this code")
    title: str
    statuses: list[int] = Field(description="The HTTP statuses it is answered with")
    description: str | None = Field(description="What the code means")
    occurs: list[str] = Field(description="The details it is sent with, one per situation; `{name}` is filled in")


def _read(entry: ProblemType) -> ProblemTypeRead:
    return ProblemTypeRead(
        code=entry.code,
        type=f"{PROBLEMS_URL}/{entry.code}",
        title=entry.title,
        statuses=sorted(entry.statuses),
        description=entry.description,
        occurs=entry.occurs,
    )


def _entry(code: str) -> ProblemType:
    entry = lookup(code)
    if entry is None:
        raise NotFound("Problem type", code)
    return entry


@router.get("", response_model=list[ProblemTypeRead], summary="Every error code the service answers")
async def list_problem_types(
    status: Annotated[int | None, Query(ge=400, le=599, description="Only the codes answered with this status")] = None,
) -> list[ProblemTypeRead]:
    return [_read(entry) for entry in catalogue().values() if status is None or status in entry.statuses]


@router.get("/{code}", response_model=ProblemTypeRead, summary="What an error code means")
@raises("problem_type.not_found")
async def get_problem_type(code: Annotated[str, Path(max_length=200)]) -> ProblemTypeRead:
    return _read(_entry(code))


@pages_router.get("/{code}", response_class=HTMLResponse)
async def problem_page(request: Request, code: Annotated[str, Path(max_length=200)]) -> str:
    entry = _read(_entry(code))
    statuses = f" (HTTP {', '.join(map(str, entry.statuses))})" if entry.statuses else ""
    occurs = "".join(f"<li>{escape(detail)}</li>" for detail in entry.occurs)
    as_json = request.url_for("get_problem_type", code=entry.code).path
    every_code = request.url_for("list_problem_types").path
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(entry.code)}</title></head><body>"
        f"<h1>{escape(entry.code)}</h1><p>{escape(entry.title)}{statuses}</p><p>{escape(entry.description or '')}</p>"
        + (f"<p>Sent when:</p><ul>{occurs}</ul>" if occurs else "")
        + f'<p><a href="{escape(as_json)}">As JSON</a> · <a href="{escape(every_code)}">Every code</a></p></body></html>'
    )
