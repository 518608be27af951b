from datetime import datetime

from pydantic import Field

from crm_api.core.schemas import InputModel, OutputModel, PatchModel, Text


class ArticleCreate(InputModel):
    title: Text(200)
    body: Text(100_000)


class ArticleUpdate(PatchModel):
    not_nullable = frozenset({"title", "body"})

    title: Text(200) | None = None
    body: Text(100_000) | None = None


class ArticleRead(OutputModel):
    id: int
    title: str
    body: str
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    relevance: int | None = Field(
        default=None, description="With `q`: matches weighted, a title hit above any number of body hits"
    )


class ArticleLink(InputModel):
    article_id: int
