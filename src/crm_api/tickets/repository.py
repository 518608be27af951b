from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, literal, or_, select
from sqlalchemy.orm import selectinload

from crm_api.core.repository import Repository
from crm_api.customers.policy import CUSTOMER_ID
from crm_api.models.customer import Customer
from crm_api.models.identity import User
from crm_api.models.ticket import KbArticle, ServiceTicket, SlaPolicy, TicketArticle, TicketRoutingRule
from crm_api.notifications.policy import link_columns
from crm_api.tickets import policy
from crm_api.tickets.policy import TicketPriority, TicketStatus
from crm_api.tickets.schemas import TicketFilters

# The customer 360's section (read/customer_360): the customer CUSTOMER_ID's tickets not archived, newest first.
OPEN_FOR_CUSTOMER = (
    select(ServiceTicket.id, ServiceTicket.code, ServiceTicket.summary, ServiceTicket.status)
    .where(ServiceTicket.customer_id == bindparam(CUSTOMER_ID), ServiceTicket.status != TicketStatus.ARCHIVED)
    .order_by(ServiceTicket.id.desc())
)


class TicketRepository(Repository[ServiceTicket]):
    """Tickets join their customer: its owner scopes them, and tickets of deleted customers are hidden."""

    model = ServiceTicket
    visible = staticmethod(policy.visible)

    def select(self, *, include_deleted: bool = False) -> Select[ServiceTicket]:
        statement = select(ServiceTicket).join(Customer, Customer.id == ServiceTicket.customer_id)
        return statement if include_deleted else statement.where(Customer.deleted_at.is_(None))

    def with_history(self, statement: Select[ServiceTicket]) -> Select[ServiceTicket]:
        return statement.options(
            selectinload(ServiceTicket.assignments), selectinload(ServiceTicket.handlings), selectinload(ServiceTicket.feedbacks)
        )

    def filtered(
        self,
        statement: Select[ServiceTicket],
        filters: TicketFilters,
        *,
        now: datetime,
        created_from: datetime | None,
        created_before: datetime | None,
    ) -> Select[ServiceTicket]:
        equal = {
            ServiceTicket.status: filters.status,
            ServiceTicket.service_type: filters.service_type,
            ServiceTicket.priority: filters.priority,
            ServiceTicket.customer_id: filters.customer_id,
            ServiceTicket.assignee_id: filters.assignee_id,
        }
        statement = statement.where(*(column == value for column, value in equal.items() if value is not None))
        if filters.q:
            statement = statement.where(func.lower(ServiceTicket.summary).contains(filters.q.lower(), autoescape=True))
        if created_from is not None:
            statement = statement.where(ServiceTicket.created_at >= created_from)
        if created_before is not None:
            statement = statement.where(ServiceTicket.created_at < created_before)
        if filters.breached is not None:
            breached = policy.breached_clause(now)
            statement = statement.where(breached if filters.breached else ~func.coalesce(breached, False))
        return statement

    async def articles(self, ticket_id: int) -> list[KbArticle]:
        statement = (
            select(KbArticle)
            .join(TicketArticle, TicketArticle.article_id == KbArticle.id)
            .where(TicketArticle.ticket_id == ticket_id)
            .order_by(TicketArticle.linked_at, KbArticle.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def is_linked(self, ticket_id: int, article_id: int) -> bool:
        return await self.session.get(TicketArticle, (ticket_id, article_id)) is not None

    async def sla_policy(self, service_type: str, priority: TicketPriority) -> SlaPolicy | None:
        return await self.session.scalar(
            select(SlaPolicy).where(SlaPolicy.service_type == service_type, SlaPolicy.priority == priority)
        )

    async def matching_rule(self, *, customer_level: str | None, service_type: str) -> TicketRoutingRule | None:
        """The first rule (by sort order) whose criteria all match and whose user is still active."""
        level_matches: ColumnElement[bool] = TicketRoutingRule.customer_level.is_(None)
        if customer_level is not None:
            level_matches = or_(level_matches, TicketRoutingRule.customer_level == customer_level)
        return await self.session.scalar(
            select(TicketRoutingRule)
            .join(User, User.id == TicketRoutingRule.assignee_id)
            .where(
                User.active.is_(True),
                level_matches,
                or_(TicketRoutingRule.service_type.is_(None), TicketRoutingRule.service_type == service_type),
            )
            .order_by(TicketRoutingRule.sort_order, TicketRoutingRule.id)
            .limit(1)
        )

    def breached_open(self, now: datetime) -> Select[*tuple[Any, ...]]:
        """Tickets not yet archived that are past a due time, as notifications of their assignee (or creator)."""
        return select(
            func.coalesce(ServiceTicket.assignee_id, ServiceTicket.created_by_id).label("user_id"),
            (literal("SLA breached: ") + ServiceTicket.code).label("title"),
            ServiceTicket.summary.label("body"),
            *link_columns("service_ticket", ServiceTicket.id),
        ).where(ServiceTicket.status != TicketStatus.ARCHIVED, policy.breached_clause(now))


class SlaPolicyRepository(Repository[SlaPolicy]):
    model = SlaPolicy


class RoutingRuleRepository(Repository[TicketRoutingRule]):
    model = TicketRoutingRule
