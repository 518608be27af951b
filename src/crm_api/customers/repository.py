from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Column,
    ColumnElement,
    CursorResult,
    Exists,
    Select,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import joinedload, selectinload

from crm_api.core import changes
from crm_api.core.db import one_record, read_rows, record_columns, records
from crm_api.core.pagination import Sort, Window
from crm_api.core.permissions import PerScopeShape, Principal, scope_values
from crm_api.core.references import reload_names
from crm_api.core.repository import Repository, among, locked
from crm_api.core.types import Money, listed
from crm_api.customers import policy as customer_policy
from crm_api.customers.policy import CUSTOMER_ID
from crm_api.customers.schemas import CustomerRead, CustomerSearch
from crm_api.models import Base
from crm_api.models.collaboration import Task
from crm_api.models.customer import Contact, Customer, CustomerTag, Interaction, OwnershipChange, RecycleRule
from crm_api.models.identity import User
from crm_api.models.pipeline import Opportunity
from crm_api.models.sales import COMPLETED_ORDER_STATUSES, Order
from crm_api.notifications.policy import link_columns
from crm_api.opportunities.policy import OpportunityStatus
from crm_api.tasks.policy import TaskKind, TaskPriority, TaskRelatedType, TaskStatus

R = TypeVar("R", Contact, Interaction)

# Values per IN list of the duplicate guard's lookup: an import's 100,000 rows stay under the drivers' parameter limits.
KEY_BATCH = 5_000
# A search's page walks this many of the newest customers before it looks among the older ones through the trigram
# indexes (`Window`): about 2 ms of PostgreSQL's time, and a term found in one customer in 50 fills a page in it.
SEARCH_WINDOW = Window(rows=1_000)
# Ownership moves that start an owner's time with a customer: the recycle clock runs from the latest of them.
OWNERSHIP_STARTS = (
    customer_policy.OwnershipAction.CREATE,
    customer_policy.OwnershipAction.CLAIM,
    customer_policy.OwnershipAction.TRANSFER,
)


# What a customer's representation (CustomerRead) reads: its columns and names, whether it is locked, its tags; each
# labelled with its field's name (`read_rows` reads them without the ORM, which would name the names' subqueries).
READ_COLUMNS = (
    *(getattr(Customer, name).label(name) for name in CustomerRead.model_fields if name not in {"locked", "tags"}),
    Customer.locked_at.is_not(None).label("locked"),
    listed(select(CustomerTag.tag).where(CustomerTag.customer_id == Customer.id)).label("tags"),
)
# Searches per list statement and search shape (one per set of filters): `CustomerRepository.searched`.
_SEARCHED: WeakKeyDictionary[Select[Any], dict[tuple[Hashable, ...], Select[Any]]] = WeakKeyDictionary()
_READ_SCOPED: PerScopeShape[Select[Any]] = PerScopeShape()
_READ_BY_ID: PerScopeShape[Select[Any]] = PerScopeShape()
_VISIBLE: PerScopeShape[Exists] = PerScopeShape()
_IN_SCOPE: PerScopeShape[Select[tuple[bool]]] = PerScopeShape()
_HEAD_BY_ID: PerScopeShape[Select[*tuple[Any, ...]]] = PerScopeShape()


# The duplicate guard's lookup: the column of each key, whose values are one expanding parameter.
_KEY_COLUMNS = {
    "names": Customer.name_normalized,
    "phones": Customer.phone_e164,
    "emails": func.lower(Customer.email),
}


@cache
def _sharing_keys(keys: tuple[str, ...], *, except_one: bool) -> Select[*tuple[Any, ...]]:
    """The duplicate guard's lookup on these keys, built once per shape: only the keys given, so each is an indexed
    lookup (an empty IN list would be a subquery the planner cannot OR with the indexes)."""
    statement: Select[*tuple[Any, ...]] = (
        select(
            Customer.id,
            Customer.name,
            Customer.owner_id,
            User.full_name.label("owner_name"),
            Customer.name_normalized,
            Customer.phone_e164,
            _KEY_COLUMNS["emails"].label("email"),
        )
        .outerjoin(User, User.id == Customer.owner_id)
        .where(Customer.deleted_at.is_(None), or_(*(_KEY_COLUMNS[key].in_(bindparam(key, expanding=True)) for key in keys)))
    )
    return statement.where(Customer.id != bindparam("except_id")) if except_one else statement


def _live_by_id(principal: Principal, permission: str) -> Select[Customer]:
    """The customer `CUSTOMER_ID` names if it is live and in the principal's scope of `permission`, run with
    `scope_values(principal)`: the one condition of the reads and checks of a customer by id."""
    return select(Customer).where(
        Customer.deleted_at.is_(None),
        Customer.id == bindparam(CUSTOMER_ID),
        customer_policy.visible(principal, permission, named=True),
    )


@dataclass(frozen=True)
class Staleness:
    """The customers one recycle rule catches on a day: of these levels (None: every level but `other_levels`), owned
    since before `interaction_since` with no interaction on or after that day, or owned since before `deal_since`
    with no won opportunity or shipped order since. A None day: that condition is off."""

    level: str | None
    other_levels: Sequence[str]
    interaction_since: tuple[date, datetime] | None
    deal_since: tuple[date, datetime] | None


class CustomerRepository(Repository[Customer]):
    """Customers are scoped by their account manager (owner) and that owner's team."""

    model = Customer
    visible = staticmethod(customer_policy.visible)

    @staticmethod
    def with_tags(statement: Select[Customer]) -> Select[Customer]:
        """Tags of many customers: one more query for all of them."""
        return statement.options(selectinload(Customer.tags))

    async def one_with_tags(self, statement: Select[Customer]) -> Customer | None:
        """The one customer the statement selects, joined to its tags: a single round trip."""
        result = await self.session.scalars(statement.options(joinedload(Customer.tags)))
        return result.unique().one_or_none()

    @staticmethod
    def as_read(statement: Select[Customer]) -> Select[Any]:
        """The customers a statement selects as the columns of their representation, `locked` among them: plain
        rows, no ORM object or identity map (the hot reads)."""
        return statement.with_only_columns(*READ_COLUMNS)

    def read_scoped(self, principal: Principal, permission: str) -> Select[Any]:
        """`as_read` of the live customers in the principal's scope of `permission`, run with `scope_values(principal)`.
        Built once per shape of the caller's scope (`scope_shape`): building a select of this many columns costs more
        than PostgreSQL takes to run it."""
        return _READ_SCOPED.get(
            principal,
            permission,
            lambda: self.as_read(self.select().where(customer_policy.visible(principal, permission, named=True))),
        )

    @staticmethod
    def visible_exists(principal: Principal, permission: str) -> Exists:
        """The condition that the customer `CUSTOMER_ID` names is live and in the principal's scope of `permission`,
        run with `scope_values(principal)`: built once per scope shape, as `read_scoped`."""

        return _VISIBLE.get(
            principal, permission, lambda: _live_by_id(principal, permission).with_only_columns(Customer.id).exists()
        )

    @classmethod
    def read_by_id(cls, principal: Principal, permission: str) -> Select[Any]:
        """The representation's columns of the customer `CUSTOMER_ID` names, if it is live and in the principal's scope
        of `permission`: one statement per scope shape, as `read_scoped`, read by `one_by_id`."""
        return _READ_BY_ID.get(principal, permission, lambda: cls.as_read(_live_by_id(principal, permission)))

    async def is_in_scope(self, principal: Principal, permission: str, customer_id: int) -> bool:
        """Whether the customer is live and in the principal's scope of `permission`: `visible_exists` asked alone,
        one statement per scope shape."""
        statement = _IN_SCOPE.get(principal, permission, lambda: select(self.visible_exists(principal, permission)))
        result = await read_rows(self.session, statement, scope_values(principal) | {CUSTOMER_ID: customer_id})
        return bool(result.scalar())

    async def one_read(self, principal: Principal, permission: str, customer_id: int) -> dict[str, Any] | None:
        """The representation's values of the customer, if it is live and in the principal's scope of `permission`.
        SQLAlchemy keeps the statement's cache key, so nothing is built or keyed per request."""
        return await self.one_by_id(self.read_by_id(principal, permission), principal, customer_id)

    async def one_head(self, principal: Principal, permission: str, customer_id: int) -> dict[str, Any] | None:
        """The id, code, name, status and erasure of the customer, if it is live and in the principal's scope of
        `permission`: one statement per scope shape, as `one_read`."""
        head = (Customer.id, Customer.code, Customer.name, Customer.status, Customer.erased_at)
        statement = _HEAD_BY_ID.get(principal, permission, lambda: _live_by_id(principal, permission).with_only_columns(*head))
        return await self.one_by_id(statement, principal, customer_id)

    async def one_by_id(
        self, statement: Select[*tuple[Any, ...]], principal: Principal, customer_id: int
    ) -> dict[str, Any] | None:
        """The one row of a statement of the customer by id (`read_by_id`, and what adds to it) for this caller and
        customer, as a record; None when there is none."""
        return await one_record(self.session, statement, scope_values(principal) | {CUSTOMER_ID: customer_id})

    @staticmethod
    def filtered(statement: Select[Any], filters: CustomerSearch, custom: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
        """The customers of `statement` the search and the custom-field conditions `custom` match, the search's values
        bound: a statement built per call."""
        conditions = [*customer_policy.matching(filters), *custom]
        return statement.where(*conditions) if conditions else statement

    @staticmethod
    def searched(statement: Select[Any], shape: tuple[Hashable, ...]) -> Select[Any]:
        """The customers of `statement` a search of this shape matches (`customer_policy.search`), run with its
        values; `statement` itself when the search sets no filter. Built once per statement and shape, so a list
        keeps the page statements built for it (`paginate`) and SQLAlchemy its cache key."""
        built = _SEARCHED.setdefault(statement, {})
        searched = built.get(shape)
        if searched is None:
            clauses = customer_policy.searching(shape)
            searched = built[shape] = statement.where(*clauses) if clauses else statement
        return searched

    async def orders_summary(self, customer_id: int) -> dict[str, Any]:
        """Count, total and last date of the customer's completed orders, in one statement."""
        return records(await read_rows(self.session, ORDERS_SUMMARY, {CUSTOMER_ID: customer_id}))[0]

    async def sharing_keys(
        self, *, names: Sequence[str], phones: Sequence[str], emails: Sequence[str], except_id: int | None
    ) -> list[Any]:
        """Live customers whose normalized name, E.164 phone or lower-case email is among these (indexed lookups,
        a query per KEY_BATCH values of each), with their owner's name: rows of (id, name, owner_id, owner_name,
        name_normalized, phone_e164, email), each once, oldest first."""
        keyed = {"names": names, "phones": phones, "emails": emails}
        found: dict[int, Any] = {}
        for start in range(0, max(map(len, keyed.values())), KEY_BATCH):
            given = {key: values[start : start + KEY_BATCH] for key, values in keyed.items() if values[start:]}
            statement = _sharing_keys(tuple(given), except_one=except_id is not None)
            for row in await self.session.execute(statement, given | {"except_id": except_id}):
                found.setdefault(row.id, row)
        return [found[i] for i in sorted(found)]

    async def names(self, ids: Iterable[int]) -> dict[int, str]:
        rows = await self.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(list(ids))))
        return dict(rows.all())

    async def owned_active(self, user_id: int) -> int:
        """How many live, active customers the user owns (the claim limit counts these)."""
        statement = select(func.count()).where(
            Customer.owner_id == user_id, Customer.status == customer_policy.CustomerStatus.ACTIVE, Customer.deleted_at.is_(None)
        )
        return int(await self.session.scalar(statement) or 0)

    async def hold_user(self, user_id: int) -> int | None:
        """Lock the user's row until commit, so their claims (or locks) count and move one at a time (a limit holds
        under concurrency); their own claim limit, if an admin set one. FOR NO KEY UPDATE: rows referring to the
        user may still be written meanwhile."""
        statement = select(User.pool_claim_limit).where(User.id == user_id).with_for_update(key_share=True)
        return await self.session.scalar(statement)

    async def locked_by(self, owner_id: int) -> int:
        """How many live customers of this owner are locked (the lock limit counts these)."""
        statement = select(func.count()).where(
            Customer.owner_id == owner_id, Customer.locked_at.is_not(None), Customer.deleted_at.is_(None)
        )
        return int(await self.session.scalar(statement) or 0)

    async def claim(self, customer_id: int, user_id: int) -> Customer | None:
        """`UPDATE customers SET owner_id = :me, version = version + 1 WHERE id = :id AND owner_id IS NULL AND
        deleted_at IS NULL AND status = 'active' RETURNING …`: of concurrent claims exactly one matches."""
        statement = (
            update(Customer)
            .where(
                Customer.id == customer_id,
                Customer.owner_id.is_(None),
                Customer.deleted_at.is_(None),
                Customer.status == customer_policy.CustomerStatus.ACTIVE,
            )
            .values(owner_id=user_id, version=Customer.version + 1)
            .returning(Customer)
            .execution_options(populate_existing=True, synchronize_session=False)
        )
        claimed = (await self.session.execute(statement)).scalar_one_or_none()
        if claimed is not None:
            await reload_names(self.session, claimed, {}, {"owner_id"})
        return claimed

    async def owner_name(self, customer_id: int) -> tuple[bool, str | None]:
        """Whether the customer is live, and its owner's name (None: in the pool), as committed now."""
        row = (
            await self.session.execute(
                select(Customer.deleted_at, User.full_name)
                .outerjoin(User, User.id == Customer.owner_id)
                .where(Customer.id == customer_id)
            )
        ).one_or_none()
        if row is None or row[0] is not None:
            return False, None
        return True, row[1]

    async def last_release_by(self, customer_id: int, user_id: int) -> datetime | None:
        """When `user_id` last stopped owning the customer by a release."""
        statement = select(func.max(OwnershipChange.at)).where(
            OwnershipChange.customer_id == customer_id,
            OwnershipChange.from_user_id == user_id,
            OwnershipChange.action == customer_policy.OwnershipAction.RELEASE,
        )
        return await self.session.scalar(statement)

    @staticmethod
    def stale(rule: Staleness) -> ColumnElement[bool]:
        """Owned, active, live, unlocked customers the rule catches: correlated subqueries, so it also suits a
        SELECT … FOR UPDATE of customers."""
        owned_since = func.coalesce(
            select(func.max(OwnershipChange.at))
            .where(
                OwnershipChange.customer_id == Customer.id,
                OwnershipChange.to_user_id == Customer.owner_id,
                OwnershipChange.action.in_(OWNERSHIP_STARTS),
            )
            .scalar_subquery(),
            Customer.created_at,
        )
        conditions = []
        if rule.interaction_since is not None:
            day, instant = rule.interaction_since
            contacted = exists().where(Interaction.customer_id == Customer.id, Interaction.occurred_on >= day)
            conditions.append(and_(owned_since < instant, ~contacted))
        if rule.deal_since is not None:
            day, instant = rule.deal_since
            won = exists().where(
                Opportunity.customer_id == Customer.id,
                Opportunity.status == OpportunityStatus.WON,
                Opportunity.closed_at >= instant,
            )
            shipped = exists().where(
                Order.customer_id == Customer.id, Order.status.in_(COMPLETED_ORDER_STATUSES), Order.order_date >= day
            )
            conditions.append(and_(owned_since < instant, ~won, ~shipped))
        if rule.level is not None:
            level = Customer.level == rule.level
        else:
            level = or_(Customer.level.is_(None), Customer.level.not_in(rule.other_levels))
        return and_(
            Customer.owner_id.is_not(None),
            Customer.locked_at.is_(None),
            Customer.status == customer_policy.CustomerStatus.ACTIVE,
            Customer.deleted_at.is_(None),
            level,
            or_(*conditions) if conditions else false(),
        )

    async def hold_stale(self, rules: Sequence[Staleness]) -> list[Customer]:
        """The customers any of the rules catches, with their tags, their rows locked until commit."""
        statement = self.with_tags(
            select(Customer).where(or_(*(self.stale(rule) for rule in rules))).order_by(Customer.id)
        ).with_for_update(of=Customer)
        return list((await self.session.scalars(statement)).all())

    async def return_to_pool(self, customer_ids: Sequence[int]) -> None:
        """`UPDATE customers SET owner_id = NULL, version = version + 1 WHERE id IN (…)`, in slices."""
        for start in range(0, len(customer_ids), 5_000):
            await self.session.execute(
                update(Customer)
                .where(Customer.id.in_(customer_ids[start : start + 5_000]))
                .values(owner_id=None, version=Customer.version + 1)
                .execution_options(synchronize_session=False)
            )

    async def reload_with_tags(self, customer_ids: Sequence[int]) -> list[Customer]:
        statement = self.with_tags(select(Customer).where(Customer.id.in_(customer_ids)).order_by(Customer.id))
        return list((await self.session.scalars(statement.execution_options(populate_existing=True))).all())

    async def open_recycle_warnings(self, rule: Staleness, *, days: int, now: datetime, due_at: datetime, since: datetime) -> int:
        """One INSERT … SELECT: a task due `due_at` for the owner of each customer the rule catches (on the day it
        will be recycled), unless it has an open warning or got one since `since`. Returns how many."""
        warned = exists().where(
            Task.related_type == TaskRelatedType.CUSTOMER,
            Task.related_id == Customer.id,
            Task.kind == TaskKind.RECYCLE_WARNING,
            or_(Task.status == TaskStatus.OPEN, Task.created_at >= since),
        )
        at_now = literal(now, Task.created_at.type)
        due = literal(due_at, Task.due_at.type)
        rows = select(
            literal(f"Back to the pool within {days} days unless you follow up: ") + Customer.name,
            Customer.owner_id,
            literal(TaskRelatedType.CUSTOMER.value),
            Customer.id,
            literal(TaskKind.RECYCLE_WARNING.value),
            literal(TaskStatus.OPEN.value),
            literal(TaskPriority.HIGH.value),
            due,
            at_now,
            at_now,
        ).where(self.stale(rule), ~warned)
        columns = [
            "title",
            "assignee_id",
            "related_type",
            "related_id",
            "kind",
            "status",
            "priority",
            "due_at",
            "created_at",
            "updated_at",
        ]
        result = await self.session.execute(insert(Task).from_select(columns, rows))
        # Warnings are tasks of their assignee's phone: logged as an import's rows are (set-based).
        await changes.log_selected(self.session, Task, and_(Task.kind == TaskKind.RECYCLE_WARNING, Task.created_at == at_now))
        return int(cast("CursorResult[Any]", result).rowcount or 0)

    async def last_task_id(self) -> int:
        """The highest task id so far: the warnings a run opens have larger ones."""
        return int(await self.session.scalar(select(func.max(Task.id))) or 0)

    def recycle_warnings_opened(self, after_id: int) -> Select[*tuple[Any, ...]]:
        """The warnings opened since `after_id` was the last task, as notifications of their customers' owners."""
        return (
            select(
                Task.assignee_id.label("user_id"),
                literal("Customer about to return to the pool").label("title"),
                Task.title.label("body"),
                *link_columns("customer", Customer.id),
            )
            .join(Customer, Customer.id == Task.related_id)
            .where(
                Task.id > after_id,
                Task.kind == TaskKind.RECYCLE_WARNING,
                Task.related_type == TaskRelatedType.CUSTOMER,
                Task.assignee_id.is_not(None),
            )
        )

    async def settle_recycle_warnings(self, customer_ids: Sequence[int], *, now: datetime) -> None:
        """The customers went back to the pool: their open warnings are moot."""
        for start in range(0, len(customer_ids), 5_000):
            settled = and_(
                Task.related_type == TaskRelatedType.CUSTOMER,
                Task.related_id.in_(customer_ids[start : start + 5_000]),
                Task.kind == TaskKind.RECYCLE_WARNING,
            )
            await self.session.execute(
                update(Task)
                .where(settled, Task.status == TaskStatus.OPEN)
                .values(status=TaskStatus.CANCELLED, closed_at=now, version=Task.version + 1)
                .execution_options(synchronize_session=False)
            )
            await changes.log_selected(
                self.session, Task, and_(settled, Task.status == TaskStatus.CANCELLED, Task.closed_at == now)
            )

    async def recycle_rules(self) -> list[RecycleRule]:
        return list((await self.session.scalars(select(RecycleRule).order_by(RecycleRule.level))).all())

    async def clear_recycle_rules(self) -> None:
        await self.session.execute(delete(RecycleRule))

    def ownership_history(self, customer_id: int) -> Select[OwnershipChange]:
        return select(OwnershipChange).where(OwnershipChange.customer_id == customer_id)

    async def user_names(self, ids: Iterable[int | None]) -> dict[int, str]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        rows = await self.session.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
        return dict(rows.all())

    async def ids_by_code(self, codes: Collection[str]) -> dict[str, int]:
        if not codes:
            return {}
        rows = await self.session.execute(
            select(Customer.code, Customer.id).where(Customer.code.in_(list(codes)), Customer.deleted_at.is_(None))
        )
        return {row[0]: row[1] for row in rows}

    async def insert_many(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """New customers in one INSERT (per batch of the driver's): each one's columns as stored, ids and defaults
        with them, in the order of `rows`."""
        table = Customer.__table__
        return records(await self.session.execute(insert(table).returning(*table.c, sort_by_parameter_order=True), rows))

    async def insert_tags(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(CustomerTag), rows)

    async def add_ownership_changes(
        self, customer_ids: Sequence[int], action: customer_policy.OwnershipAction, actor_id: int | None, at: datetime
    ) -> None:
        """A row of each customer's ownership history, to its owner now: one INSERT … SELECT, which PostgreSQL runs at
        a third of the cost of a row each."""
        if not customer_ids:
            return
        rows = select(
            Customer.id,
            Customer.owner_id,
            literal(action.value, OwnershipChange.action.type),
            literal(actor_id, OwnershipChange.actor_id.type),
            literal(at, OwnershipChange.at.type),
        ).where(Customer.id.in_(customer_ids))
        columns = ["customer_id", "to_user_id", "action", "actor_id", "at"]
        await self.session.execute(insert(OwnershipChange.__table__).from_select(columns, rows))

    async def reassign(self, column: Column[Any], *, loser_id: int, survivor_id: int) -> int:
        """Point the loser's rows of `column`'s table at the survivor; rows that would collide with one of the
        survivor's under a unique key (a tag both have) stay with the loser. Returns how many moved."""
        table = column.table
        statement = update(table).where(column == loser_id).values({column.name: survivor_id})
        for key in _unique_keys_with(column):
            survivors = table.alias()
            others = [survivors.c[c.name] == c for c in key if c is not column]
            statement = statement.where(~exists().where(survivors.c[column.name] == survivor_id, *others))
        result = await self.session.execute(statement)
        return cast("CursorResult[Any]", result).rowcount or 0


def _unique_keys_with(column: Column[Any]) -> list[list[Column[Any]]]:
    """The primary key, unique constraints and unique indexes of the column's table that include it."""
    table = column.table
    keys = [list(table.primary_key.columns)]
    keys += [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    keys += [list(index.columns) for index in table.indexes if index.unique]
    return [key for key in keys if column in key]


def customer_references() -> list[Column[Any]]:
    """Every column of another table that refers to customers.id, from the model metadata: new domains are covered
    by merge without code changes. Tables the database derives from others (`info["derived_from"]`) follow those; histories of the record itself
    (`info["stays_on_merge"]`) stay with the loser."""
    customer_id = Customer.__table__.c.id
    return [
        fk.parent
        for table in Base.metadata.sorted_tables
        if table is not Customer.__table__ and not {"derived_from", "stays_on_merge"} & table.info.keys()
        for fk in table.foreign_keys
        if fk.column is customer_id
    ]


# The customer 360's sections of the customer CUSTOMER_ID (read/customer_360): the count, total and last date of its
# completed orders, its contacts in the order they were added, and its latest interactions, newest first.
ORDERS_SUMMARY = select(
    func.count(Order.id).label("count"),
    type_coerce(func.coalesce(func.sum(Order.total), 0), Money()).label("total"),
    func.max(Order.order_date).label("last_order_date"),
).where(Order.customer_id == bindparam(CUSTOMER_ID), among(Order.status, COMPLETED_ORDER_STATUSES))
CONTACTS_OF_CUSTOMER = select(*record_columns(Contact)).where(Contact.customer_id == bindparam(CUSTOMER_ID)).order_by(Contact.id)

# A customer's interactions in the order recorded: the day, then the id.
INTERACTION_ORDER = Sort([Interaction.occurred_on, Interaction.id])


def latest_interactions(latest: int) -> Select[Any]:
    return (
        select(*record_columns(Interaction))
        .where(Interaction.customer_id == bindparam(CUSTOMER_ID))
        .order_by(*(key.desc() for key in INTERACTION_ORDER.keys))
        .limit(latest)
    )


class CustomerRecordRepository(Repository[R]):
    """Records of one customer; the data scope is the customer's, which the service checks first."""

    def of_customer(self, customer_id: int) -> Select[R]:
        return self.select().where(self.model.customer_id == customer_id)

    async def get_of_customer(self, customer_id: int, record_id: int, *, for_update: bool = False) -> R | None:
        statement = self.of_customer(customer_id).where(self.model.id == record_id)
        return await self.session.scalar(locked(statement) if for_update else statement)


class ContactRepository(CustomerRecordRepository[Contact]):
    model = Contact


class InteractionRepository(CustomerRecordRepository[Interaction]):
    model = Interaction
