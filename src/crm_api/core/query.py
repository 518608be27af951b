"""Query parameters a route takes by prefix rather than by name (`cf.<key>`: one per custom field an admin defines).

FastAPI declares parameters by name, so a family whose names are data cannot be declared. A route takes such a family
through a `PrefixedQuery` dependency; `accepted_prefixes` is the one hook that tells the unknown-parameter check which
names a route accepts beyond those it declares.

`ReadOnce` reads the parameters a route declares by name, in one validation per dependant rather than FastAPI's one
per parameter.
"""

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError, create_model
from pydantic.fields import FieldInfo

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


# Where a request keeps what `ReadOnce` read: for each dependant it reads for, in order, name → value.
READ_QUERY = "crm.query"
_REQUEST = "crm_query_request"
_SEQUENCES = (list, tuple, set, frozenset, Sequence)


def query_model(annotation: Any) -> type[BaseModel] | None:
    """The model a query parameter stands for (`Annotated[CustomerFilters, Query()]`, or one in a union), whose
    fields are the query parameters FastAPI reads for it; None for a plain parameter."""
    models = [arg for arg in (annotation, *get_args(annotation)) if isinstance(arg, type) and issubclass(arg, BaseModel)]
    return models[0] if models else None


def _read_by_fastapi(annotation: Any) -> bool:
    """A parameter that may repeat (`?tag=a&tag=b`, read as a list) or a model in a union (None when none of its
    fields is sent): FastAPI keeps reading it."""
    sequence = any(get_origin(arg) in _SEQUENCES or arg in _SEQUENCES for arg in (annotation, *get_args(annotation)))
    return sequence or query_model(annotation) not in (None, annotation)


def _model_of(info: FieldInfo) -> type[BaseModel] | None:
    model = query_model(info.annotation)
    return model if model is info.annotation else None


@dataclass(frozen=True)
class _Reader:
    """The query parameters one dependant declares: the plain ones as one model, and the query models."""

    plain: type[BaseModel] | None
    models: tuple[tuple[str, type[BaseModel]], ...]

    @classmethod
    def of(cls, name: str, fields: Sequence[Any]) -> "_Reader":
        """Of a dependant's query parameters (FastAPI's fields), each as declared: its type, default, alias, bounds."""
        plain: dict[str, Any] = {
            field.name: (field.field_info.annotation, field.field_info) for field in fields if _model_of(field.field_info) is None
        }
        return cls(
            plain=create_model(f"{name}_query", **plain) if plain else None,
            models=tuple((field.name, model) for field in fields if (model := _model_of(field.field_info)) is not None),
        )

    def read(self, query: Mapping[str, str], errors: list[Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, model in ((None, self.plain), *self.models):
            if model is None:
                continue
            try:
                read = model.model_validate(query)
            except ValidationError as exc:
                errors.extend({**error, "loc": ("query", *error["loc"])} for error in exc.errors())
                continue
            values |= {name: read} if name is not None else dict(read)
        return values


# A dependency whose value the route gives from the request itself (the unit of work's session), not FastAPI.
Given = Callable[[Request], Any]


@dataclass
class ReadOnce:
    """A route's query parameters read in one validation per dependant declaring some, not by FastAPI field by field;
    and the dependencies the route gives itself passed in, not solved.

    FastAPI extracts and validates each declared query parameter on its own, re-examining its annotation on every
    request: a customer list's twelve were a ninth of its instructions. Each dependency it solves, however trivial,
    costs a lookup by id a fiftieth. `of` copies the route's dependant tree without either: each call that declared
    query parameters or took a given dependency gets them from `read` and `given`. The route's own dependant, which
    the contract is generated from, keeps declaring them. A dependant FastAPI must handle itself (`_read_by_fastapi`,
    a generator or plain function) keeps them all.
    """

    given: Mapping[Callable[..., Any], Given]
    readers: list[_Reader]

    @classmethod
    def of(cls, dependant: Dependant, given: Mapping[Callable[..., Any], Given]) -> tuple["ReadOnce", Dependant]:
        reading = cls(given, [])
        return reading, reading._handling(dependant)

    def _handling(self, dependant: Dependant) -> Dependant:
        call = dependant.call
        fields = dependant.query_params
        taken = [(each.name, give) for each in dependant.dependencies if (give := self._given(each)) is not None]
        if (
            not (fields or taken)
            or not inspect.iscoroutinefunction(call)
            or any(_read_by_fastapi(field.field_info.annotation) for field in fields)
        ):
            return replace(dependant, dependencies=[self._handling(each) for each in dependant.dependencies])
        dependencies = [self._handling(each) for each in dependant.dependencies if self._given(each) is None]
        key = len(self.readers)
        self.readers.append(_Reader.of(call.__name__, fields))
        request_name = dependant.request_param_name or _REQUEST
        keeps_request = dependant.request_param_name is not None

        async def with_read_values(**values: Any) -> Any:
            request = values[request_name] if keeps_request else values.pop(request_name)
            for name, give in taken:
                if name is not None:
                    values[name] = give(request)
            return await call(**values, **request.scope[READ_QUERY][key])

        return replace(
            dependant, query_params=[], dependencies=dependencies, call=with_read_values, request_param_name=request_name
        )

    def _given(self, dependant: Dependant) -> Given | None:
        return self.given.get(dependant.call) if dependant.call is not None else None

    def read(self, request: Request) -> None:
        """Every reader's values into the request, or one 422 naming every parameter at fault, as FastAPI's would."""
        query = request.query_params
        errors: list[Any] = []
        request.scope[READ_QUERY] = [reader.read(query, errors) for reader in self.readers]
        if errors:
            raise RequestValidationError(errors)
