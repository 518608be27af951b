"""The app's API routes, flattened: FastAPI keeps an included router as one entry of `app.routes`."""

from collections.abc import Iterable, Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute


def _flatten(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _flatten(included.routes)
        else:
            yield route


def api_routes(app: FastAPI) -> list[APIRoute]:
    routes = [route for route in _flatten(app.routes) if isinstance(route, APIRoute)]
    assert len(routes) > 100, "the walk must reach the domain routers"
    return routes
