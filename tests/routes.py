"""The app's API routes with their full paths: FastAPI keeps an included router as one entry of `app.routes`, and
the include's prefix outside its routes' paths."""

from collections.abc import Iterable, Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute


def _flatten(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _flatten(included.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(full path, route) for every API route."""
    routes = list(_flatten(app.routes))
    assert len(routes) > 100, "the walk must reach the domain routers"
    return routes
