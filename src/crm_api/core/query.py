"""Query parameters a route takes by prefix rather than by name (`cf.<key>`: one per custom field an admin defines).

FastAPI declares parameters by name, so a family whose names are data cannot be declared. A route takes such a family
through a `PrefixedQuery` dependency; `accepted_prefixes` is the one hook that tells the unknown-parameter check which
names a route accepts beyond those it declares.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request
from fastapi.dependencies.models import Dependant

# (name after the prefix, value) for each parameter of the family, in the order sent; a name may repeat.
PrefixedParams = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class PrefixedQuery:
    """A dependency reading every query parameter named `<prefix><name>`. Async, as every dependency on a hot path:
    FastAPI runs a plain function in a worker thread."""

    prefix: str

    async def __call__(self, request: Request) -> list[tuple[str, str]]:
        return [
            (name.removeprefix(self.prefix), value)
            for name, value in request.query_params.multi_items()
            if name.startswith(self.prefix)
        ]


def accepted_prefixes(dependant: Dependant) -> frozenset[str]:
    """The prefixes of the parameter families a route (its dependant tree) takes."""
    prefixes = {dependant.call.prefix} if isinstance(dependant.call, PrefixedQuery) else set()
    for dependency in dependant.dependencies:
        prefixes |= accepted_prefixes(dependency)
    return frozenset(prefixes)
