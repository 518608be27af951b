"""The domains' routers: FastAPI's, with a quick refusal of the requests they cannot serve."""

import re
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import Match, compile_path
from starlette.types import Scope

from crm_api.core.db import UnitOfWorkRoute


def routes_pattern(paths: list[str]) -> re.Pattern[str] | None:
    """A search for a path any of the route templates matches at its end (`/customers/{customer_id}/orders` in
    `/api/v1/customers/7/orders`, whatever the prefix the router is included under), or None when there is no route
    to refuse for (no paths, or a route without one: an included router)."""
    if not paths or any(not path for path in paths):
        return None
    templates = sorted({_UNNAMED_GROUP.sub("(?:", compile_path(path)[0].pattern[1:-1]) for path in paths})
    return re.compile("(?:" + "|".join(templates) + ")$")


_UNNAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


class DomainRouter(APIRouter):
    """A domain's routes, each a request's unit of work (`UnitOfWorkRoute`, unless the router names a subclass such
    as `SnapshotRoute`). FastAPI asks each included router in turn whether a request is for one of its routes, and
    each tries every route's pattern: over all the domains that was 12 % of a lookup by id, and more for the many
    routers serving paths under `/customers/{customer_id}`. A path none of the router's templates matches, whatever
    the method, is refused after one search of their union; any other goes through FastAPI's matching unchanged."""

    _refusal: tuple[int, re.Pattern[str] | None] = (-1, None)

    def __init__(self, *, route_class: type[APIRoute] = UnitOfWorkRoute, **options: Any) -> None:
        super().__init__(route_class=route_class, **options)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        routes, pattern = self._refusal
        if routes != len(self.routes):
            paths = [getattr(route, "path", "") for route in self.routes]  # a router included here has none: no refusal
            pattern = routes_pattern(paths)
            self._refusal = (len(self.routes), pattern)
        if pattern is not None and pattern.search(scope["path"]) is None:
            return Match.NONE, {}
        return super().matches(scope)
