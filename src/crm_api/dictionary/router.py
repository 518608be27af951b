from typing import Annotated

from fastapi import Depends, Query, status

from crm_api.core.auth import Authenticated, require
from crm_api.core.db import SessionDep
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.dictionary import service
from crm_api.dictionary.schemas import DictionaryItemCreate, DictionaryItemRead, DictionaryItemUpdate

router = DomainRouter(prefix="/dictionary", tags=["dictionary"])

DictionaryWrite = Annotated[Principal, Depends(require("dictionary:write"))]


DictionaryItemPage = Annotated[
    PageParams, listing("DictionaryItemSort", "category", "value", "sort_order", "created_at", "updated_at")
]


@router.get(
    "",
    response_model=Page[DictionaryItemRead],
    summary="List dictionary items, by category and order",
)
async def list_items(
    _: Authenticated,
    session: SessionDep,
    page: DictionaryItemPage,
    category: Annotated[str | None, Query(max_length=50)] = None,
    include_inactive: bool = False,
) -> Page[DictionaryItemRead]:
    return await service.list_items(session, page, category=category, include_inactive=include_inactive)


@router.post(
    "",
    response_model=DictionaryItemRead,
    status_code=status.HTTP_201_CREATED,
    summary="Add a dictionary item",
)
@raises("dictionary.duplicate_value")
async def create_item(body: DictionaryItemCreate, principal: DictionaryWrite, session: SessionDep) -> DictionaryItemRead:
    return DictionaryItemRead.model_validate(await service.create_item(session, principal, body))


@router.get("/{item_id}", response_model=DictionaryItemRead, summary="Get a dictionary item")
@raises("dictionary_item.not_found")
async def get_item(item_id: Id, _: Authenticated, session: SessionDep) -> DictionaryItemRead:
    return DictionaryItemRead.model_validate(await service.get_item(session, item_id))


@router.patch(
    "/{item_id}",
    response_model=DictionaryItemRead,
    summary="Change or deactivate an editable item",
)
@raises("dictionary.duplicate_value", "dictionary.in_use", "dictionary.not_editable", "dictionary_item.not_found")
async def update_item(
    item_id: Id, body: DictionaryItemUpdate, principal: DictionaryWrite, session: SessionDep
) -> DictionaryItemRead:
    return DictionaryItemRead.model_validate(await service.update_item(session, principal, item_id, body))


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an editable item no record uses",
)
@raises("dictionary.in_use", "dictionary.not_editable", "dictionary_item.not_found")
async def delete_item(item_id: Id, principal: DictionaryWrite, session: SessionDep) -> None:
    await service.delete_item(session, principal, item_id)
