"""A mobile client's sync loop, as an app would run it."""

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.factories import Actor

SYNC = "/api/v1/sync"
KINDS = ("customers", "contacts", "interactions", "tasks", "opportunities")


@dataclass
class Device:
    """What a phone keeps: the records per kind by id, and the token of its last page."""

    actor: Actor
    types: str | None = None
    token: str | None = None
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=lambda: {kind: {} for kind in KINDS})
    pages: int = 0

    def apply(self, page: dict[str, Any]) -> None:
        for kind in KINDS:
            changes = page[kind]
            if changes is None:
                continue
            for record in changes["upserts"]:
                self.records[kind][record["id"]] = record
            for record_id in changes["deleted"]:
                self.records[kind].pop(record_id, None)
        self.token = page["token"]
        self.pages += 1

    async def page(self, client: httpx.AsyncClient, limit: int = 500) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if self.types is not None:
            params["types"] = self.types
        if self.token is not None:
            params["since"] = self.token
        response = await client.get(SYNC, params=params, headers=self.actor.headers)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        self.apply(page)
        return page

    async def sync(self, client: httpx.AsyncClient, limit: int = 500, *, most_pages: int = 100) -> list[dict[str, Any]]:
        """Page until `more` is false; the pages."""
        pages = []
        for _ in range(most_pages):
            pages.append(await self.page(client, limit))
            if not pages[-1]["more"]:
                return pages
        raise AssertionError(f"still more after {most_pages} pages")

    async def until_waiting(self, client: httpx.AsyncClient, limit: int = 500, *, most_pages: int = 100) -> dict[str, Any]:
        """Page while pages bring changes; the first empty one, whose `more` says whether a change waits."""
        for _ in range(most_pages):
            page = await self.page(client, limit)
            if not any(page[kind] and (page[kind]["upserts"] or page[kind]["deleted"]) for kind in KINDS):
                return page
        raise AssertionError(f"still changes after {most_pages} pages")

    def ids(self, kind: str) -> set[int]:
        return set(self.records[kind])
