from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from crm_api.customers.schemas import ContactRead, CustomerRead, InteractionRead
from crm_api.opportunities.schemas import OpportunityRead
from crm_api.tasks.schemas import TaskRead

R = TypeVar("R", bound=BaseModel)


class Changes(BaseModel, Generic[R]):
    """One kind of record's changes in a page: store the upserts, drop the deleted."""

    upserts: list[R] = Field(description="Records in your scope, new or changed, as they are now")
    deleted: list[int] = Field(description="Ids of records deleted or gone out of your scope (transferred, released)")


class SyncPage(BaseModel):
    """A page of changes; a kind not asked for is null."""

    customers: Changes[CustomerRead] | None = None
    contacts: Changes[ContactRead] | None = None
    interactions: Changes[InteractionRead] | None = None
    tasks: Changes[TaskRead] | None = None
    opportunities: Changes[OpportunityRead] | None = None
    token: str = Field(description="Keep it, and send it as `since` next time: the changes after this page")
    more: bool = Field(
        description="true: ask again with `token` (at once; after a moment when the page was empty: a change waits "
        "for an earlier transaction to commit); false: you are up to date"
    )
