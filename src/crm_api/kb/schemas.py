from datetime import datetime
from typing import Annotated

from pydantic import Field

from crm_api.core.schemas import Id, InputModel, PatchModel, Text, VersionedOutput, example


class ArticleCreate(InputModel):
    model_config = example({"title": "如何申请发票", "body": "在订单页面点击“申请发票”，填写抬头和税号后提交。"})
    title: Annotated[str, Text(200)]
    body: Annotated[str, Text(100_000)]


class ArticleUpdate(PatchModel):
    model_config = example({"title": "如何申请增值税发票"})
    not_nullable = frozenset({"title", "body"})

    title: Annotated[str, Text(200)] | None = None
    body: Annotated[str, Text(100_000)] | None = None


class ArticleRead(VersionedOutput):
    id: int
    title: str
    body: str
    created_by_id: int | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    relevance: int | None = Field(
        default=None, description="With `q`: matches weighted, a title hit above any number of body hits"
    )


class ArticleLink(InputModel):
    model_config = example({"article_id": 1})
    article_id: Id
