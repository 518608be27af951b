"""The data dictionary: the allowed values of coded fields, and the check every domain uses."""

from collections.abc import Collection, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.cache import cached
from crm_api.core.errors import Conflict, InvalidInput
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.core.pubsub import REFERENCE_CHANNEL
from crm_api.custom_fields import service as custom_fields
from crm_api.dictionary.repository import DictionaryRepository
from crm_api.dictionary.schemas import DictionaryItemCreate, DictionaryItemRead, DictionaryItemUpdate
from crm_api.models.platform import DictionaryItem


async def _active_values(session: AsyncSession, categories: Collection[str]) -> dict[str, dict[str, str]]:
    """Per category, its active items' values and labels -> their values, from the worker's copy of the whole active
    dictionary (a few hundred items, read on every write's check; forgotten when an item changes)."""
    everything = await cached(session, REFERENCE_CHANNEL, "dictionary", DictionaryRepository(session).active_values)
    return {category: everything.get(category, {}) for category in categories}


async def ensure_value(session: AsyncSession, category: str, value: str | None, *, field: str) -> None:
    """422 unless `value` is an active item of `category` (None passes: the field is optional)."""
    await ensure_values(session, category, [value], field=field)


async def ensure_values(session: AsyncSession, category: str, values: Collection[str | None], *, field: str) -> None:
    """ensure_value for many values at once, in one query."""
    given = {value for value in values if value is not None}
    if not given:
        return
    active = (await _active_values(session, [category]))[category]
    for value in sorted(given):
        if active.get(value) != value:
            raise _unknown(field, category, value)


async def refused_fields(session: AsyncSession, fields: Mapping[str, tuple[str, str | None]]) -> list[InvalidInput]:
    """The refusal of each field (name -> its category and value) whose value is not an active item of its category
    (None passes), the categories read in one query: a record's coded fields checked together."""
    given = {name: (category, value) for name, (category, value) in fields.items() if value is not None}
    if not given:
        return []
    active = await _active_values(session, {category for category, _ in given.values()})
    return [_unknown(name, category, value) for name, (category, value) in given.items() if active[category].get(value) != value]


def _unknown(field: str, category: str, value: str) -> InvalidInput:
    return InvalidInput(field, f"{value!r} is not an active {category} value", code="dictionary.unknown_value")


async def values_by_label(session: AsyncSession, categories: Collection[str]) -> dict[str, dict[str, str]]:
    """Per category, each active item's label and value -> its value: what a file written by people may hold."""
    return await _active_values(session, categories)


async def list_items(
    session: AsyncSession, params: PageParams, *, category: str | None, include_inactive: bool
) -> Page[DictionaryItemRead]:
    repo = DictionaryRepository(session)
    statement = repo.select()
    if category:
        statement = statement.where(DictionaryItem.category == category)
    if not include_inactive:
        statement = statement.where(DictionaryItem.active.is_(True))
    sort = Sort([DictionaryItem.category, DictionaryItem.sort_order, DictionaryItem.id], descending=False)
    return (await repo.page(statement, params, sort)).to_page(DictionaryItemRead.model_validate)


async def _in_use(session: AsyncSession, item: DictionaryItem) -> bool:
    """A column of its category holds the value, or a custom field whose choices it is among."""
    return await DictionaryRepository(session).in_use(item.category, item.value) or await custom_fields.uses_choice(
        session, item.category, item.value
    )


async def get_item(session: AsyncSession, item_id: int) -> DictionaryItem:
    return await DictionaryRepository(session).get_or_404(item_id, "Dictionary item")


async def create_item(session: AsyncSession, actor: Principal, data: DictionaryItemCreate) -> DictionaryItem:
    if await DictionaryRepository(session).find(data.category, data.value) is not None:
        raise Conflict(f"{data.category} already has the value {data.value}", code="dictionary.duplicate_value")
    item = DictionaryItem(**data.model_dump())
    session.add(item)
    await audit.record_change(session, actor=actor, entity_type="dictionary_item", entity=item, action="create", before=None)
    return item


async def update_item(session: AsyncSession, actor: Principal, item_id: int, data: DictionaryItemUpdate) -> DictionaryItem:
    repo = DictionaryRepository(session)
    item = await get_item(session, item_id)
    if not item.editable:
        raise Conflict("This dictionary item is built in and cannot be changed", code="dictionary.not_editable")
    changes = data.changes()
    new_value = changes.get("value", item.value)
    if new_value != item.value:
        if await repo.find(item.category, new_value) is not None:
            raise Conflict(f"{item.category} already has the value {new_value}", code="dictionary.duplicate_value")
        if await _in_use(session, item):
            raise Conflict("Records use this value, so it cannot be renamed", code="dictionary.in_use")
    before = audit.snapshot(item)
    for field, value in changes.items():
        setattr(item, field, value)
    await audit.record_change(session, actor=actor, entity_type="dictionary_item", entity=item, action="update", before=before)
    return item


async def delete_item(session: AsyncSession, actor: Principal, item_id: int) -> None:
    item = await get_item(session, item_id)
    if not item.editable:
        raise Conflict("This dictionary item is built in and cannot be deleted", code="dictionary.not_editable")
    if await _in_use(session, item):
        raise Conflict("Records use this value: deactivate it instead", code="dictionary.in_use")
    await audit.delete_recorded(session, actor=actor, entity_type="dictionary_item", entity=item)
