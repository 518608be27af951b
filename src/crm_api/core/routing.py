"""The domains' routers: FastAPI's, with a quick refusal of the requests they cannot serve."""

import re
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from crm_api.core.db import UnitOfWorkRoute


def first_segments_pattern(paths: list[str]) -> re.Pattern[str] | None:
    """A search for any of the paths' first segments as a whole segment (`/customers` in `/customers/{id}`), or None
    when a path starts with a parameter or is the root, which can match whatever the first segment is."""
    firsts = {path.strip("/").split("/", 1)[0] for path in paths}
    if not firsts or any(not first or "{" in first for first in firsts):
        return None
    return re.compile("/(?:" + "|".join(re.escape(first) for first in sorted(firsts)) + ")(?:/|$)")


class DomainRouter(APIRouter):
    """A domain's routes, each a request's unit of work (`UnitOfWorkRoute`, unless the router names a subclass such
    as `SnapshotRoute`). FastAPI asks each included router in turn whether a request is for one of its routes, and
    each tries every route's pattern: over all the domains that was 12 % of a lookup by id. A route can match only a
    path holding its first segment, so a path holding none of this router's is refused after one search; any other
    goes through FastAPI's matching unchanged."""

    _refusal: tuple[int, re.Pattern[str] | None] = (-1, None)

    def __init__(self, *, route_class: type[APIRoute] = UnitOfWorkRoute, **options: Any) -> None:
        super().__init__(route_class=route_class, **options)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        routes, pattern = self._refusal
        if routes != len(self.routes):
            paths = [getattr(route, "path", "") for route in self.routes]  # a router included here has none: no refusal
            pattern = first_segments_pattern(paths)
            self._refusal = (len(self.routes), pattern)
        if pattern is not None and pattern.search(scope["path"]) is None:
            return Match.NONE, {}
        return super().matches(scope)
