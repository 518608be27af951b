from sqlalchemy import Column, exists, select

from crm_api.core.repository import Repository
from crm_api.models import Base
from crm_api.models.platform import DictionaryItem


def columns_using(category: str) -> list[Column[str]]:
    """Columns declared with info={"dictionary": category} anywhere in the model registry."""
    return [
        column for table in Base.metadata.tables.values() for column in table.columns if column.info.get("dictionary") == category
    ]


class DictionaryRepository(Repository[DictionaryItem]):
    model = DictionaryItem

    async def find(self, category: str, value: str) -> DictionaryItem | None:
        return await self.session.scalar(
            select(DictionaryItem).where(DictionaryItem.category == category, DictionaryItem.value == value)
        )

    async def in_use(self, category: str, value: str) -> bool:
        for column in columns_using(category):
            if await self.session.scalar(select(exists().where(column == value))):
                return True
        return False

    async def active_values(self) -> dict[str, dict[str, str]]:
        """Per category, each active item's value and label -> its value, in one query."""
        rows = await self.session.execute(
            select(DictionaryItem.category, DictionaryItem.value, DictionaryItem.label).where(DictionaryItem.active.is_(True))
        )
        values: dict[str, dict[str, str]] = {}
        for category, value, label in rows:
            values.setdefault(category, {}).update({label: value, value: value})
        return values
