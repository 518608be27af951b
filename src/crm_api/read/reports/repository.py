"""The reports' SQL: every figure is aggregated in the database, over the customers the caller may see."""

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Row,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.functions import FunctionElement

from crm_api.churn import policy as churn_policy
from crm_api.churn.policy import ChurnWarningStatus
from crm_api.contracts import policy as contract_policy
from crm_api.core.pagination import PageParams, PageRows, Rows, Sort, paginate
from crm_api.core.permissions import Principal, Scope, scope_clause
from crm_api.core.repository import LIKE_ESCAPE, like_text
from crm_api.customers import policy as customer_policy
from crm_api.customers.policy import CustomerStatus
from crm_api.models.churn import ChurnWarning
from crm_api.models.contract import Contract, Installment, Receipt
from crm_api.models.customer import Contact, Customer
from crm_api.models.identity import Role, Team, User
from crm_api.models.pipeline import Opportunity
from crm_api.models.platform import DictionaryItem
from crm_api.models.sales import ALL_YEARS, COMPLETED_ORDER_STATUSES, CustomerRevenue, Order
from crm_api.models.target import SalesTarget
from crm_api.models.ticket import ServiceTicket, TicketFeedback
from crm_api.opportunities import policy as opportunity_policy
from crm_api.opportunities.policy import OpportunityStatus
from crm_api.targets import policy as target_policy
from crm_api.targets.policy import TargetHolder
from crm_api.tickets import policy as ticket_policy
from crm_api.users import policy as user_policy

PERMISSION = "reports:read"
# Largest first; between equal sums the newer customer first, so every page boundary is exact.
CONTRIBUTION_SORT = Sort([CustomerRevenue.revenue_cents, CustomerRevenue.customer_id])
# Newest confirmation first, then the newer warning.
CHURN_SORT = Sort([ChurnWarning.confirmed_at, ChurnWarning.id])
# Rows the database sends at a time while a whole report streams into a file: the memory a file costs.
STREAM_BATCH = 2_000


def revenue_cents(total: InstrumentedAttribute[Any]) -> ColumnElement[int]:
    """Exact sum of money in integer cents: SQLite keeps NUMERIC as binary floats, so 0.10 + 0.20 must not add as floats."""
    return func.coalesce(func.sum(cast(func.round(total * 100), BigInteger)), 0)


def contains(column: InstrumentedAttribute[str], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match; % and _ in the text are plain characters."""
    return column.ilike(f"%{like_text(text)}%", escape=LIKE_ESCAPE)


def blank(column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
    if column.type.python_type is str:
        return or_(column.is_(None), func.trim(column) == "")
    return column.is_(None)


class ReportRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def visible_customers(self) -> ColumnElement[bool]:
        """Live customers the customers' policy shows under `reports:read` (a supervisor: their team's)."""
        return and_(Customer.deleted_at.is_(None), customer_policy.visible(self.principal, PERMISSION))

    def _revenue_of(self, year: int | None) -> ColumnElement[bool]:
        return and_(CustomerRevenue.year == (ALL_YEARS if year is None else year), CustomerRevenue.order_count > 0)

    def contribution(self, *, customer_name: str | None, year: int | None) -> Select[int, str, str, str, int, int]:
        """Visible customers (whose name contains the text) with shipped or paid orders (in the year).

        Read from the revenue the order triggers keep per customer, not summed over the orders.
        """
        statement = (
            select(
                CustomerRevenue.customer_id,
                Customer.code,
                Customer.name,
                User.full_name.label("owner_name"),
                CustomerRevenue.order_count,
                CustomerRevenue.revenue_cents,
            )
            .join(Customer, Customer.id == CustomerRevenue.customer_id)
            .join(User, User.id == Customer.owner_id)
            .where(self._revenue_of(year), self.visible_customers())
        )
        return statement.where(contains(Customer.name, customer_name)) if customer_name else statement

    async def page(self, statement: Select[*tuple[Any, ...]], params: PageParams, sort: Sort) -> Rows:
        return await paginate(self.session, statement, params, sort, rows=PageRows.COLUMNS)

    async def every_row(self, statement: Select[*tuple[Any, ...]], sort: Sort) -> AsyncIterator[Row[*tuple[Any, ...]]]:
        """Every row in the sort's order from one cursor (server-side on PostgreSQL), STREAM_BATCH rows at a time.

        The statement runs now, so a failing query is an error answer rather than a file cut short."""
        if self.session.get_bind().dialect.name == "postgresql":
            # Every row is wanted: plan for the last one, not for the first tenth as a cursor does by default
            # (a nested loop over 160,000 customers took twice the hash join's time).
            await self.session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
        result = await self.session.stream(statement.order_by(*sort.order_by()).execution_options(yield_per=STREAM_BATCH))

        async def rows() -> AsyncIterator[Row[*tuple[Any, ...]]]:
            # A batch per step: the async result's row-by-row iteration costs a thread switch per row.
            async for batch in result.partitions():
                for row in batch:
                    yield row

        return rows()

    async def count(self, statement: Select[*tuple[Any, ...]]) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(statement.subquery())) or 0)

    async def contribution_totals(self, *, customer_name: str | None, year: int | None) -> Row[int, int, int]:
        """Contributing customers, their orders and revenue cents, over every page."""
        revenue: tuple[ColumnElement[int] | InstrumentedAttribute[int], ColumnElement[int] | InstrumentedAttribute[int]]
        conditions: tuple[ColumnElement[bool], ...]
        if customer_name or self.principal.scope(PERMISSION) is not Scope.ALL:
            contributors = self.contribution(customer_name=customer_name, year=year).subquery()
            revenue, conditions = (contributors.c.order_count, contributors.c.revenue_cents), ()
        else:
            # Everyone's: leaving out the few deleted customers beats joining a million visible ones.
            deleted = select(Customer.id).where(Customer.id == CustomerRevenue.customer_id, Customer.deleted_at.is_not(None))
            revenue = (CustomerRevenue.order_count, CustomerRevenue.revenue_cents)
            conditions = (self._revenue_of(year), ~exists(deleted))
        statement = select(func.count(), *(func.coalesce(func.sum(column), 0) for column in revenue)).where(*conditions)
        return (await self.session.execute(statement)).one()

    async def active_customers_by(self, column: InstrumentedAttribute[Any]) -> dict[Any, int]:
        statement = (
            select(column, func.count())
            .where(self.visible_customers(), Customer.status == CustomerStatus.ACTIVE)
            .group_by(column)
        )
        return dict((await self.session.execute(statement)).all())

    async def dictionary_items(self, category: str) -> list[DictionaryItem]:
        statement = (
            select(DictionaryItem)
            .where(DictionaryItem.category == category)
            .order_by(DictionaryItem.sort_order, DictionaryItem.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def monthly_revenue(self, start: date, end: date) -> dict[tuple[int, int], int]:
        """Cents of completed orders per (year, month) with start <= order_date < end."""
        year, month = extract("year", Order.order_date), extract("month", Order.order_date)
        statement = (
            select(year, month, revenue_cents(Order.total))
            .join(Customer, Customer.id == Order.customer_id)
            .where(
                self.visible_customers(),
                Order.status.in_(COMPLETED_ORDER_STATUSES),
                Order.order_date >= start,
                Order.order_date < end,
            )
            .group_by(year, month)
        )
        return {(int(y), int(m)): int(cents) for y, m, cents in (await self.session.execute(statement)).all()}

    async def missing_counts(self, fields: list[InstrumentedAttribute[Any]]) -> tuple[int, dict[str, int]]:
        """Total rows and, per field, how many are empty; customers, or contacts of visible customers."""
        entity = fields[0].class_
        statement = select(func.count(), *(func.coalesce(func.sum(case((blank(f), 1), else_=0)), 0) for f in fields)).where(
            self.visible_customers()
        )
        if entity is Contact:
            statement = statement.select_from(Contact).join(Customer, Customer.id == Contact.customer_id)
        total, *missing = (await self.session.execute(statement)).one()
        return int(total), {f.key: int(m) for f, m in zip(fields, missing, strict=True)}

    async def duplicate_candidates(self) -> dict[str, int]:
        """Visible customers, and how many share a normalized name, an E.164 phone or an email with another one."""
        email = func.lower(func.trim(Customer.email))

        def shared(key: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[int]:
            # Window counts: one pass over the customers; an empty key matches nobody.
            return case((or_(key.is_(None), key == ""), 1), else_=func.count().over(partition_by=key))

        counted = (
            select(
                shared(Customer.name_normalized).label("name"),
                shared(Customer.phone_e164).label("phone"),
                shared(email).label("email"),
            )
            .where(self.visible_customers())
            .subquery()
        )
        by_reason = {reason: counted.c[reason] > 1 for reason in ("name", "phone", "email")}

        def how_many(condition: ColumnElement[bool]) -> ColumnElement[int]:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        statement = select(
            func.count().label("customers"),
            how_many(or_(*by_reason.values())).label("candidates"),
            *(how_many(condition).label(reason) for reason, condition in by_reason.items()),
        ).select_from(counted)
        return {key: int(value) for key, value in (await self.session.execute(statement)).one()._mapping.items()}


class days_between(FunctionElement[float]):
    """Days (with fraction) from one timestamp to a later one, on either database."""

    type = Float()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(argument, **kw) for argument in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(argument, **kw) for argument in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)"


def quantiles(
    group: ColumnElement[Any] | InstrumentedAttribute[Any], value: ColumnElement[float], where: ColumnElement[bool]
) -> Select[Any, float | None, float | None]:
    """Per group, the median (mean of the two middle values) and the nearest-rank 90th percentile of `value`.

    Window functions, so SQLite (which has no percentile_cont) and PostgreSQL agree exactly.
    """
    ranked = (
        select(
            group.label("bucket"),
            value.label("value"),
            func.row_number().over(partition_by=group, order_by=value).label("position"),
            func.count().over(partition_by=group).label("members"),
        )
        .where(where, value.is_not(None))
        .subquery()
    )
    middle = or_(ranked.c.position == (ranked.c.members + 1) // 2, ranked.c.position == (ranked.c.members + 2) // 2)
    p90_rank = (ranked.c.members * 9 + 9) // 10  # ceil(0.9 n) in integer arithmetic
    return select(
        ranked.c.bucket,
        func.avg(case((middle, ranked.c.value))),
        func.max(case((ranked.c.position == p90_rank, ranked.c.value))),
    ).group_by(ranked.c.bucket)


def time_buckets(column: InstrumentedAttribute[datetime], bounds: Sequence[datetime]) -> ColumnElement[int]:
    """Index i of the bucket bounds[i] <= column < bounds[i + 1] (time-zone-correct months computed by the caller)."""
    return case(*((column < bound, index) for index, bound in enumerate(bounds[1:])), else_=None)


class ServiceDeskRepository(ReportRepository):
    """Queries over service tickets and churn warnings, each scoped by its own policy (joined to a live customer)."""

    def visible_tickets(self) -> ColumnElement[bool]:
        """Tickets of live customers the tickets' policy shows under `reports:read`: the customer's owner, the
        assignee or the creator in scope, as the ticket list shows them."""
        return and_(Customer.deleted_at.is_(None), ticket_policy.visible(self.principal, PERMISSION))

    def visible_warnings(self) -> ColumnElement[bool]:
        """Churn warnings of live customers the churn policy shows under `reports:read`."""
        return and_(Customer.deleted_at.is_(None), churn_policy.visible(self.principal, PERMISSION))

    async def tickets_by_type(self, period: tuple[datetime, datetime] | None) -> dict[Any, int]:
        statement = (
            select(ServiceTicket.service_type, func.count())
            .join(Customer, Customer.id == ServiceTicket.customer_id)
            .where(self.visible_tickets())
            .group_by(ServiceTicket.service_type)
        )
        if period is not None:
            statement = statement.where(ServiceTicket.created_at >= period[0], ServiceTicket.created_at < period[1])
        return dict((await self.session.execute(statement)).all())

    def confirmed_churn(
        self, *, customer_name: str | None, owner_name: str | None
    ) -> Select[int, datetime | None, str | None, date | None, str, str, str]:
        statement = (
            select(
                ChurnWarning.id,
                ChurnWarning.confirmed_at,
                ChurnWarning.confirm_reason,
                ChurnWarning.last_order_date_at_open,
                Customer.code,
                Customer.name,
                User.full_name.label("owner_name"),
            )
            .join(Customer, Customer.id == ChurnWarning.customer_id)
            .join(User, User.id == Customer.owner_id)
            .where(ChurnWarning.status == ChurnWarningStatus.CONFIRMED, self.visible_warnings())
        )
        if customer_name:
            statement = statement.where(contains(Customer.name, customer_name))
        if owner_name:
            statement = statement.where(or_(contains(User.full_name, owner_name), contains(User.username, owner_name)))
        return statement

    async def ticket_months(self, bounds: Sequence[datetime], now: datetime) -> dict[int, dict[str, Any]]:
        """Per month bucket of ticket creation: count, SLA breaches, mean satisfaction, handling and archive quantiles."""
        month = time_buckets(ServiceTicket.created_at, bounds)
        in_period = and_(self.visible_tickets(), ServiceTicket.created_at >= bounds[0], ServiceTicket.created_at < bounds[-1])
        tickets = (
            select(
                month.label("bucket"),
                func.count(),
                func.coalesce(func.sum(case((ticket_policy.breached_clause(now), 1), else_=0)), 0),
            )
            .select_from(ServiceTicket)
            .join(Customer, Customer.id == ServiceTicket.customer_id)
            .where(in_period)
            .group_by(month)
        )
        months: dict[int, dict[str, Any]] = {
            bucket: {"tickets": count, "breached": breached}
            for bucket, count, breached in (await self.session.execute(tickets)).all()
        }
        satisfaction = (
            select(month, func.avg(TicketFeedback.satisfaction))
            .select_from(TicketFeedback)
            .join(ServiceTicket, ServiceTicket.id == TicketFeedback.ticket_id)
            .join(Customer, Customer.id == ServiceTicket.customer_id)
            .where(in_period)
            .group_by(month)
        )
        for bucket, mean in (await self.session.execute(satisfaction)).all():
            months[bucket]["satisfaction"] = mean
        for key, finished in (("first_handling", ServiceTicket.first_handled_at), ("archive", ServiceTicket.archived_at)):
            hours = days_between(ServiceTicket.created_at, finished) * 24
            ranked = quantiles(month, hours, and_(in_period, ServiceTicket.customer_id == Customer.id))
            for bucket, median, p90 in (await self.session.execute(ranked)).all():
                months[bucket][f"{key}_median"], months[bucket][f"{key}_p90"] = median, p90
        return months


class PipelineRepository(ReportRepository):
    """Queries over opportunities (visible when their creator or assignee is in scope) and account managers."""

    def visible_opportunities(self) -> ColumnElement[bool]:
        """Opportunities the opportunities' policy shows under `reports:read`."""
        return opportunity_policy.visible(self.principal, PERMISSION)

    async def opportunities_by_stage(
        self, period: tuple[datetime, datetime], assignee_id: int | None
    ) -> list[Row[str, opportunity_policy.OpportunityStatus, int, int]]:
        """Count and expected amount (cents) per stage and status of opportunities created in the period."""
        statement = (
            select(
                Opportunity.stage,
                Opportunity.status,
                func.count().label("count"),
                revenue_cents(Opportunity.expected_amount).label("cents"),
            )
            .where(
                self.visible_opportunities(),
                Opportunity.created_at >= period[0],
                Opportunity.created_at < period[1],
            )
            .group_by(Opportunity.stage, Opportunity.status)
        )
        if assignee_id is not None:
            statement = statement.where(Opportunity.assignee_id == assignee_id)
        return list((await self.session.execute(statement)).all())

    async def account_managers(self) -> list[Row[int, str, str]]:
        statement = (
            select(User.id, User.full_name, User.username)
            .where(User.roles.any(Role.code == "account_manager"), user_policy.visible(self.principal, PERMISSION))
            .order_by(User.full_name, User.id)
        )
        return list((await self.session.execute(statement)).all())

    async def assignment_outcomes(self, period: tuple[datetime, datetime]) -> dict[int, tuple[int, int, int, float | None]]:
        """Per assignee, opportunities assigned in the period, how many of them were won and lost, median days to win."""
        assigned_in_period = and_(
            self.visible_opportunities(), Opportunity.assigned_at >= period[0], Opportunity.assigned_at < period[1]
        )
        counts = (
            select(
                Opportunity.assignee_id,
                func.count().label("assigned"),
                func.coalesce(func.sum(case((Opportunity.status == OpportunityStatus.WON, 1), else_=0)), 0).label("won"),
                func.coalesce(func.sum(case((Opportunity.status == OpportunityStatus.LOST, 1), else_=0)), 0).label("lost"),
            )
            .where(assigned_in_period)
            .group_by(Opportunity.assignee_id)
        )
        days_to_win = days_between(Opportunity.assigned_at, Opportunity.closed_at)
        medians = quantiles(
            Opportunity.assignee_id, days_to_win, and_(assigned_in_period, Opportunity.status == OpportunityStatus.WON)
        )
        median_by_assignee = {row[0]: row[1] for row in (await self.session.execute(medians)).all()}
        return {
            row.assignee_id: (row.assigned, row.won, row.lost, median_by_assignee.get(row.assignee_id))
            for row in (await self.session.execute(counts)).all()
        }

    async def revenue_by_owner(self, start: date, end: date) -> dict[int, int]:
        """Cents of shipped or paid orders dated start <= order_date <= end, per customer owner."""
        statement = (
            select(Customer.owner_id, revenue_cents(Order.total))
            .join(Order, Order.customer_id == Customer.id)
            .where(
                self.visible_customers(),
                Order.status.in_(COMPLETED_ORDER_STATUSES),
                Order.order_date >= start,
                Order.order_date <= end,
            )
            .group_by(Customer.owner_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {owner: int(cents) for owner, cents in rows if owner is not None}  # pool customers have no owner


def cents(amount: InstrumentedAttribute[Any]) -> ColumnElement[int]:
    """One amount in integer cents, so sums stay exact on SQLite too (see revenue_cents)."""
    return cast(func.round(amount * 100), BigInteger)


def _sums(*columns: ColumnElement[Any]) -> list[ColumnElement[int]]:
    return [func.coalesce(func.sum(column), 0).label(column.key) for column in columns]


class QuoteToCashRepository:
    """Contracts signed, receipts collected, installments owed and targets set: one statement per report, each
    branch limited to the owners the caller's permission reaches (the contracts' and the targets' policies)."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def _signed(self, permission: str, start: date, end: date) -> ColumnElement[bool]:
        return and_(
            Contract.status.in_(contract_policy.SIGNED_STATUSES),
            Contract.sign_date >= start,
            Contract.sign_date <= end,
            scope_clause(self.principal, permission, Contract.owner_id),
        )

    def _collected(self, permission: str, start: date, end: date) -> ColumnElement[bool]:
        return and_(
            Receipt.received_on >= start,
            Receipt.received_on <= end,
            scope_clause(self.principal, permission, Contract.owner_id),
        )

    @staticmethod
    def _targets(
        holder: InstrumentedAttribute[int | None], first_month: date, last_month: date, *conditions: ColumnElement[bool]
    ) -> Select[int | None, int, int, int, int]:
        """The targets of people (or teams) set for the months, as figures rows: (holder id, 1, target cents, 0, 0)."""
        zero = literal(0, BigInteger)
        return select(
            holder.label("holder_id"),
            literal(1, BigInteger).label("targets"),
            cents(SalesTarget.amount).label("target"),
            zero.label("signed"),
            zero.label("collected"),
        ).where(holder.is_not(None), SalesTarget.month >= first_month, SalesTarget.month <= last_month, *conditions)

    async def attainment(self, holder: TargetHolder, first_month: date, last_month: date, end: date) -> list[tuple[Any, ...]]:
        """Per person (or per team: its own target, its members' figures) with a target or figures in the months:
        (id, name, team name, targets set, target cents, signed cents, collected cents)."""
        permission = target_policy.READ
        zero = literal(0, BigInteger)
        people = union_all(
            self._targets(
                SalesTarget.user_id, first_month, last_month, scope_clause(self.principal, permission, SalesTarget.user_id)
            ),
            select(Contract.owner_id, zero, zero, cents(Contract.amount), zero).where(self._signed(permission, first_month, end)),
            select(Contract.owner_id, zero, zero, zero, cents(Receipt.amount))
            .join(Contract, Contract.id == Receipt.contract_id)
            .where(self._collected(permission, first_month, end)),
        ).subquery("person_figures")
        figures = ("targets", "target", "signed", "collected")
        per_person = (
            select(people.c.holder_id, *_sums(*(people.c[name] for name in figures))).group_by(people.c.holder_id).subquery()
        )
        if holder is TargetHolder.USER:
            statement = (
                select(User.id, User.full_name, Team.name, *(per_person.c[name] for name in figures))
                .join(User, User.id == per_person.c.holder_id)
                .outerjoin(Team, Team.id == User.team_id)
                .order_by(User.full_name, User.id)
            )
        else:
            teams = union_all(
                self._targets(SalesTarget.team_id, first_month, last_month),
                select(User.team_id, zero, zero, per_person.c.signed, per_person.c.collected).join(
                    User, User.id == per_person.c.holder_id
                ),
            ).subquery("team_figures")
            per_team = (
                select(teams.c.holder_id, *_sums(*(teams.c[name] for name in figures))).group_by(teams.c.holder_id).subquery()
            )
            statement = (
                select(Team.id, Team.name, literal(None, String), *(per_team.c[name] for name in figures))
                .join(Team, Team.id == per_team.c.holder_id)
                .where(target_policy.team_in_scope(self.principal, permission, Team.id))
                .order_by(Team.name, Team.id)
            )
        return [tuple(row) for row in await self.session.execute(statement)]

    async def receivables_aging(self, as_of: date, bucket_starts: Sequence[date]) -> list[tuple[Any, ...]]:
        """Per owner, cents still owed on active contracts as of the day, by the due date's bucket: bucket i holds
        installments due on or after bucket_starts[i] (and before bucket_starts[i - 1]); the last, everything older.

        Owed as of the day = owed now + receipts received after it: both sums are additive per installment, so the
        unpaid installments (a partial index) and the later receipts (an index on the date) are all that is read."""
        visible = and_(
            Contract.status.in_(contract_policy.RECEIVABLE_STATUSES),
            contract_policy.visible(self.principal, contract_policy.READ),
        )
        owed = union_all(
            select(
                Contract.owner_id.label("owner_id"),
                Installment.due_date.label("due_date"),
                (cents(Installment.amount) - cents(Installment.collected)).label("cents"),
            )
            .join(Contract, Contract.id == Installment.contract_id)
            .where(Installment.collected < Installment.amount, visible),
            select(Contract.owner_id, Installment.due_date, cents(Receipt.amount))
            .join(Installment, Installment.id == Receipt.installment_id)
            .join(Contract, Contract.id == Receipt.contract_id)
            .where(Receipt.received_on > as_of, visible),
        ).subquery("owed")
        buckets = [
            case((owed.c.due_date >= start, owed.c.cents), else_=0)
            if index == 0
            else case((and_(owed.c.due_date >= start, owed.c.due_date < bucket_starts[index - 1]), owed.c.cents), else_=0)
            for index, start in enumerate(bucket_starts)
        ]
        buckets.append(case((owed.c.due_date < bucket_starts[-1], owed.c.cents), else_=0))
        per_owner = (
            select(
                owed.c.owner_id,
                *(func.coalesce(func.sum(bucket), 0).label(f"bucket_{index}") for index, bucket in enumerate(buckets)),
                func.coalesce(func.sum(owed.c.cents), 0).label("total"),
            )
            .group_by(owed.c.owner_id)
            .having(func.sum(owed.c.cents) != 0)
            .subquery("per_owner")
        )
        # Names joined to the few owners' sums, not to every row summed.
        statement = (
            select(User.id, User.full_name, *(column for column in per_owner.c if column.key != "owner_id"))
            .join(User, User.id == per_owner.c.owner_id)
            .order_by(User.full_name, User.id)
        )
        return [tuple(row) for row in await self.session.execute(statement)]

    async def contracts_and_collections(self, start: date, end: date, *, by_owner: bool) -> list[tuple[Any, ...]]:
        """Per month (and owner): contracts signed, their amount in cents, and receipts collected in cents."""
        permission = contract_policy.READ
        zero = literal(0, BigInteger)
        flows = union_all(
            select(
                extract("year", Contract.sign_date).label("year"),
                extract("month", Contract.sign_date).label("month"),
                Contract.owner_id.label("owner_id"),
                literal(1, BigInteger).label("contracts"),
                cents(Contract.amount).label("signed"),
                zero.label("collected"),
            ).where(self._signed(permission, start, end)),
            select(
                extract("year", Receipt.received_on),
                extract("month", Receipt.received_on),
                Contract.owner_id,
                zero,
                zero,
                cents(Receipt.amount),
            )
            .join(Contract, Contract.id == Receipt.contract_id)
            .where(self._collected(permission, start, end)),
        ).subquery("flows")
        sums = _sums(flows.c.contracts, flows.c.signed, flows.c.collected)
        if not by_owner:
            statement = select(flows.c.year, flows.c.month, *sums).group_by(flows.c.year, flows.c.month)
            return [tuple(row) for row in await self.session.execute(statement)]
        per_owner = (
            select(flows.c.year, flows.c.month, flows.c.owner_id, *sums)
            .group_by(flows.c.year, flows.c.month, flows.c.owner_id)
            .subquery("per_owner")
        )
        statement = (
            select(
                per_owner.c.year,
                per_owner.c.month,
                User.id,
                User.full_name,
                per_owner.c.contracts,
                per_owner.c.signed,
                per_owner.c.collected,
            )
            .join(User, User.id == per_owner.c.owner_id)
            .order_by(per_owner.c.year, per_owner.c.month, User.full_name, User.id)
        )
        return [tuple(row) for row in await self.session.execute(statement)]
