from typing import Annotated

from fastapi import Depends, Query, status

from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.kb import service
from crm_api.kb.schemas import ArticleCreate, ArticleRead, ArticleUpdate

router = DomainRouter(prefix="/kb/articles", tags=["knowledge base"])

KbRead = Annotated[Principal, Depends(require("kb:read"))]
KbWrite = Annotated[Principal, Depends(require("kb:write"))]


ArticlePage = Annotated[PageParams, listing("ArticleSort", "title", "created_at", "updated_at")]


@router.get(
    "",
    response_model=Page[ArticleRead],
    summary="List articles, or search them by keywords (`q`) ranked by relevance",
)
async def list_articles(
    _: KbRead,
    session: SessionDep,
    page: ArticlePage,
    q: Annotated[str | None, Query(max_length=200, description="Keywords separated by spaces; Chinese works as typed")] = None,
) -> Page[ArticleRead]:
    return await service.list_articles(session, page, q=q)


@router.post(
    "",
    response_model=ArticleRead,
    status_code=status.HTTP_201_CREATED,
    summary="Write an article",
)
async def create_article(body: ArticleCreate, principal: KbWrite, session: SessionDep) -> ArticleRead:
    return ArticleRead.model_validate(await service.create_article(session, principal, body))


@router.get("/{article_id}", response_model=ArticleRead, summary="Get an article")
async def get_article(article_id: Id, _: KbRead, session: SessionDep, etag: ETag) -> ArticleRead:
    return etag(ArticleRead.model_validate(await service.get_article(session, article_id)))


@router.patch(
    "/{article_id}",
    response_model=ArticleRead,
    summary="Change an article's title or body",
)
async def update_article(
    article_id: Id, body: ArticleUpdate, principal: KbWrite, session: SessionDep, if_match: IfMatch = None
) -> ArticleRead:
    return ArticleRead.model_validate(await service.update_article(session, principal, article_id, body, if_match=if_match))


@router.delete(
    "/{article_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an article (and its ticket links)",
)
async def delete_article(article_id: Id, principal: KbWrite, session: SessionDep) -> None:
    await service.delete_article(session, principal, article_id)
