import operator
from functools import reduce
from typing import Any

from sqlalchemy import Select, case, func, or_
from sqlalchemy.orm import with_expression

from crm_api.core.repository import Repository
from crm_api.models.ticket import KbArticle

MAX_TERMS = 8
# A title hit outweighs a body hit of every term together, so title matches always rank first.
TITLE_WEIGHT = MAX_TERMS + 1


def search_terms(q: str) -> list[str]:
    """Whitespace-separated terms; Chinese needs no segmentation since each term is matched as a substring."""
    return list(dict.fromkeys(term.lower() for term in q.split()))[:MAX_TERMS]


class KbArticleRepository(Repository[KbArticle]):
    model = KbArticle

    def relevance(self, terms: list[str]) -> Any:
        title, body = func.lower(KbArticle.title), func.lower(KbArticle.body)
        parts = [
            case((title.contains(term, autoescape=True), TITLE_WEIGHT), else_=0)
            + case((body.contains(term, autoescape=True), 1), else_=0)
            for term in terms
        ]
        return reduce(operator.add, parts).label("relevance")

    def search(self, terms: list[str]) -> tuple[Select[KbArticle], Any]:
        """Articles matching any term, with their relevance loaded; returns the statement and the score."""
        score = self.relevance(terms)
        title, body = func.lower(KbArticle.title), func.lower(KbArticle.body)
        matches = or_(*(or_(title.contains(t, autoescape=True), body.contains(t, autoescape=True)) for t in terms))
        return self.select().where(matches).options(with_expression(KbArticle.relevance, score)), score
