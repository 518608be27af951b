"""The knowledge base: articles people write, find by keywords and link to service tickets."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.http import check_if_match
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.kb.repository import KbArticleRepository, search_terms
from crm_api.kb.schemas import ArticleCreate, ArticleRead, ArticleUpdate
from crm_api.models.ticket import KbArticle


async def list_articles(session: AsyncSession, params: PageParams, *, q: str | None) -> Page[ArticleRead]:
    repo = KbArticleRepository(session)
    terms = search_terms(q or "")
    if terms:
        statement, score = repo.search(terms)
        rows = await repo.page(statement, params, Sort([score, KbArticle.id]))
    else:
        rows = await repo.page(repo.select(), params)
    return rows.to_page(ArticleRead.model_validate)


async def get_article(session: AsyncSession, article_id: int) -> KbArticle:
    return await KbArticleRepository(session).get_or_404(article_id, "Article")


async def create_article(session: AsyncSession, actor: Principal, data: ArticleCreate) -> KbArticle:
    article = KbArticle(title=data.title, body=data.body, created_by_id=actor.user_id)
    session.add(article)
    await audit.record_change(session, actor=actor, entity_type="kb_article", entity=article, action="create", before=None)
    return article


async def update_article(
    session: AsyncSession, actor: Principal, article_id: int, data: ArticleUpdate, *, if_match: str | None = None
) -> KbArticle:
    article = await get_article(session, article_id)
    check_if_match(if_match, article)
    before = audit.snapshot(article)
    for field, value in data.changes().items():
        setattr(article, field, value)
    await audit.record_change(session, actor=actor, entity_type="kb_article", entity=article, action="update", before=before)
    return article


async def delete_article(session: AsyncSession, actor: Principal, article_id: int) -> None:
    article = await get_article(session, article_id)
    await audit.delete_recorded(session, actor=actor, entity_type="kb_article", entity=article)
