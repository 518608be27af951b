"""Customers, their contacts and interactions: data scopes, the active-only edit rule, soft delete, transfer, audit."""

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import BindParameter, ColumnElement, bindparam
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit, offline
from crm_api.core.clock import clock
from crm_api.core.codes import next_code, next_codes
from crm_api.core.config import Settings
from crm_api.core.db import BoundInsert, Write
from crm_api.core.errors import Conflict, Forbidden, InvalidInput, InvalidItems, NotFound
from crm_api.core.http import check_if_match
from crm_api.core.names import normalize_company_name
from crm_api.core.offline import Created
from crm_api.core.outbox import EventType, RecordChange, RecordEvents
from crm_api.core.pagination import Page, PageParams, PageRows, Sort, Window
from crm_api.core.permissions import Principal, scope_values
from crm_api.core.phones import to_e164
from crm_api.core.query import PrefixedParams
from crm_api.core.references import names_known
from crm_api.core.repository import locked
from crm_api.core.schemas import InputModel, OutputModel, PatchModel
from crm_api.core.transitions import compare_and_set
from crm_api.custom_fields import service as custom_fields
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.customers import policy
from crm_api.customers.policy import CUSTOMER_ID, CustomerStatus, OwnershipAction
from crm_api.customers.repository import (
    INTERACTION_ORDER,
    SEARCH_WINDOW,
    ContactRepository,
    CustomerRecordRepository,
    CustomerRepository,
    InteractionRepository,
)
from crm_api.customers.schemas import (
    ContactCreate,
    ContactRead,
    CustomerCreate,
    CustomerFilters,
    CustomerRead,
    CustomerRelease,
    CustomerSearch,
    CustomerTransfer,
    CustomerUpdate,
    DuplicateMatch,
    InteractionCreate,
    InteractionRead,
    OrdersSummary,
    OwnershipChangeRead,
    PoolCustomerRead,
)
from crm_api.dictionary.service import refused_fields
from crm_api.models.customer import Contact, Customer, CustomerTag, Interaction, OwnershipChange
from crm_api.models.identity import User

# Customer columns whose values come from the data dictionary, with their category.
DICTIONARY_FIELDS = {
    column.key: column.info["dictionary"] for column in Customer.__table__.columns if "dictionary" in column.info
}
# The input field of a phone -> the column keeping its E.164 form.
CUSTOMER_PHONES = {"phone": "phone_e164"}
# Interactions list newest first.
CUSTOMER_EVENTS = RecordEvents("customer", CustomerRead, "A customer (by hand, or by winning an opportunity)")
CLAIMED = EventType("customer.claimed", "A customer was claimed from the pool; its new owner is `owner_id`", CustomerRead)
RELEASED = EventType("customer.released", "A customer was put back into the pool", CustomerRead)


def to_read(customer: Customer) -> CustomerRead:
    return CustomerRead.model_validate(customer)


def read_of_columns(columns: Mapping[str, Any]) -> CustomerRead:
    """The representation of a customer read or written without the ORM: its columns as a dict, with its names and
    tags beside them (a set-based write's RETURNING, a sync page)."""
    return CustomerRead.model_validate({**columns, "locked": columns["locked_at"] is not None})


def audit_view(customer: Customer) -> dict[str, Any]:
    return _audit_view_of(audit.snapshot(customer), [tag.tag for tag in customer.tags])


def _audit_view_of(columns: audit.Snapshot, tags: Iterable[str]) -> dict[str, Any]:
    return columns | {"tags": sorted(tags)}


def normalized_phones(changes: dict[str, Any], phone_columns: dict[str, str]) -> dict[str, Any]:
    """The E.164 columns for the phones among `changes`; 422 on the field of a phone that cannot be parsed."""
    normalized = {}
    for name, column in phone_columns.items():
        if name not in changes:
            continue
        raw = changes[name]
        try:
            normalized[column] = to_e164(raw) if raw is not None else None
        except ValueError:
            raise InvalidInput(name, f"{raw!r} is not a valid phone number", code="phone.invalid") from None
    return normalized


async def ensure_dictionary_values(session: AsyncSession, changes: dict[str, Any]) -> None:
    fields = {name: (category, changes[name]) for name, category in DICTIONARY_FIELDS.items() if name in changes}
    if refusals := await refused_fields(session, fields):
        raise refusals[0]


class CustomerHead(NamedTuple):
    """What a new record of a customer reads of it: who it is, and whether it may change."""

    id: int
    code: str
    name: str
    status: str
    erased_at: datetime | None


def ensure_not_erased(record: Customer | CustomerHead | Contact) -> None:
    """A customer or contact whose personal data was erased is read-only (§3.11)."""
    if record.erased_at is not None:
        noun = "contact" if isinstance(record, Contact) else "customer"
        raise Conflict(f"The personal data of {noun} {record.id} was erased; it is read-only", code="privacy.erased")


def ensure_active(customer: Customer | CustomerHead) -> None:
    """Only active customers change; a churned (or erased) one is read-only."""
    ensure_not_erased(customer)
    if customer.status != CustomerStatus.ACTIVE:
        raise Conflict(f"Customer {customer.code} is {customer.status} and cannot be changed", code="customer.not_active")


async def load_customer(
    session: AsyncSession,
    principal: Principal,
    customer_id: int,
    permission: str,
    *,
    include_deleted: bool = False,
    for_update: bool = False,
) -> Customer:
    """`for_update`: lock the row till commit and read its latest committed version (an If-Match check)."""
    repo = CustomerRepository(session)
    statement = repo.scoped(principal, permission, include_deleted=include_deleted).where(Customer.id == customer_id)
    customer = await repo.one_with_tags(locked(statement, of=Customer) if for_update else statement)
    if customer is None:
        raise NotFound("Customer", customer_id)
    return customer


async def visible_customer(
    session: AsyncSession, principal: Principal, customer_id: int, permission: str = "customers:read"
) -> Customer | None:
    """The customer, if it exists, is live and is within the principal's scope of `permission` (another domain's
    permission on a customer's records, such as `tickets:create`, scopes by the customer's owner too)."""
    return await CustomerRepository(session).get_scoped(customer_id, principal, permission)


async def is_visible(session: AsyncSession, principal: Principal, customer_id: int) -> bool:
    """Whether the customer exists, is live and within the principal's `customers:read` scope: the gate of the records
    other domains keep about a customer (its orders, tasks)."""
    return await CustomerRepository(session).is_in_scope(principal, "customers:read", customer_id)


class CustomerGate(NamedTuple):
    """`is_visible` as a condition, for a statement reading a customer's records to ask in the same round trip. The
    condition is the same for every caller whose scope of `permission` has the same shape (a statement built on it can
    be kept in a `PerScopeShape`); `customer_id` is the customer's id as its parameter, for the statement's own
    conditions; `parameters` are the values for this caller and customer."""

    permission: str
    condition: ColumnElement[bool]
    customer_id: BindParameter[int]
    parameters: dict[str, Any]


def visibility_gate(principal: Principal, customer_id: int) -> CustomerGate:
    permission = "customers:read"
    return CustomerGate(
        permission=permission,
        condition=CustomerRepository.visible_exists(principal, permission),
        customer_id=bindparam(CUSTOMER_ID),
        parameters=scope_values(principal) | {CUSTOMER_ID: customer_id},
    )


async def get_customer(session: AsyncSession, principal: Principal, customer_id: int) -> Customer:
    return await load_customer(session, principal, customer_id, "customers:read")


async def read_customer(session: AsyncSession, principal: Principal, customer_id: int) -> CustomerRead:
    """GET of a customer: its representation straight from the row, no ORM object (the hot read)."""
    values = await CustomerRepository(session).one_read(principal, "customers:read", customer_id)
    if values is None:
        raise NotFound("Customer", customer_id)
    return CustomerRead.model_validate(values)


async def _writable_head(session: AsyncSession, principal: Principal, customer_id: int) -> CustomerHead:
    """writable_customer for a new record of the customer: its head read as columns, no Customer object or tags."""
    values = await CustomerRepository(session).one_head(principal, "customers:write", customer_id)
    if values is None:
        raise NotFound("Customer", customer_id)
    head = CustomerHead(**values)
    ensure_active(head)
    return head


async def writable_customer(
    session: AsyncSession, principal: Principal, customer_id: int, *, for_update: bool = False
) -> Customer:
    """The customer, if the principal may change it and it is active (for its contacts and interactions too)."""
    customer = await load_customer(session, principal, customer_id, "customers:write", for_update=for_update)
    ensure_active(customer)
    return customer


def _window(filters: CustomerSearch) -> Window | None:
    """How a search's pages read: a term's match rate is PostgreSQL's guess, so through the window (`Window`)."""
    return SEARCH_WINDOW if filters.q else None


async def list_customers(
    session: AsyncSession, principal: Principal, params: PageParams, filters: CustomerFilters, custom: PrefixedParams
) -> Page[CustomerRead]:
    repo = CustomerRepository(session)
    if filters.deleted:
        # The recycle bin: what the caller may restore.
        deleted = repo.scoped(principal, "customers:delete", include_deleted=True).where(Customer.deleted_at.is_not(None))
        scoped = repo.as_read(deleted)
    else:
        scoped = repo.read_scoped(principal, "customers:read")
    search = policy.search(filters)
    statement = repo.searched(scoped, search.shape)
    custom_conditions = await custom_fields.filter_conditions(session, CustomFieldEntity.CUSTOMER, custom)
    if custom_conditions:
        statement = statement.where(*custom_conditions)
    parameters = scope_values(principal) | search.values
    page = await repo.page(statement, params, rows=PageRows.RECORDS, parameters=parameters, window=_window(filters))
    return page.to_page(CustomerRead.model_validate)


def apply_tags(customer: Customer, tags: list[str]) -> None:
    kept = {tag.tag: tag for tag in customer.tags}
    customer.tags = [kept.get(name) or CustomerTag(tag=name) for name in tags]


# The duplicate guard (防撞单, §3.12): one company, one live customer, one owner.
# What it compares, in the order a match is reported -> the column of the repository's rows holding it.
DUPLICATE_KEYS = {"name": "name_normalized", "phone": "phone_e164", "email": "email"}


@dataclass(frozen=True)
class CustomerKeys:
    """What the duplicate guard compares: the normalized name, the E.164 phone, the lower-case email (None: not
    compared, as for a value an update leaves alone)."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> "CustomerKeys":
        """The keys of the customer fields among `values` (`name`, `phone_e164`, `email`)."""
        name = normalize_company_name(values["name"]) if values.get("name") else None
        email = values.get("email")
        return cls(name=name or None, phone=values.get("phone_e164"), email=email.lower() if email else None)


async def duplicates_of(
    session: AsyncSession, candidates: Sequence[CustomerKeys], *, except_id: int | None = None
) -> list[list[DuplicateMatch]]:
    """The duplicate guard for one customer or a whole import: per candidate, the live customers sharing its name,
    phone or email (a name match first, then phone, then email; oldest first). One query per 5,000 keys; the
    candidates are not compared with each other."""
    rows = await CustomerRepository(session).sharing_keys(
        names=sorted({c.name for c in candidates if c.name}),
        phones=sorted({c.phone for c in candidates if c.phone}),
        emails=sorted({c.email for c in candidates if c.email}),
        except_id=except_id,
    )
    # (key, value) -> the customers having it, oldest first: each candidate is a few lookups, whatever the count.
    having: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        for on, column in DUPLICATE_KEYS.items():
            if getattr(row, column):
                having.setdefault((on, getattr(row, column)), []).append(row)

    def matches(candidate: CustomerKeys) -> list[DuplicateMatch]:
        found: dict[int, DuplicateMatch] = {}
        for on in DUPLICATE_KEYS:
            for row in having.get((on, getattr(candidate, on)), []):
                owner = row.owner_name or "pool"
                match = DuplicateMatch(id=row.id, name=row.name, owner_id=row.owner_id, owner_name=owner, matched_on=on)
                found.setdefault(row.id, match)
        return list(found.values())

    return [matches(candidate) for candidate in candidates]


def duplicate_message(match: DuplicateMatch) -> str:
    return f"Customer {match.id} {match.name} ({match.owner_name}) has the same {match.matched_on}"


def duplicate_error(match: DuplicateMatch) -> Conflict:
    return Conflict(
        duplicate_message(match),
        code="customer.duplicate",
        duplicate=match.model_dump(),
    )


async def ensure_not_duplicate(session: AsyncSession, keys: CustomerKeys, *, except_id: int | None = None) -> None:
    """409 `customer.duplicate` naming the live customer that shares the name, phone or email."""
    [matches] = await duplicates_of(session, [keys], except_id=except_id)
    if matches:
        raise duplicate_error(matches[0])


@asynccontextmanager
async def guarded(
    session: AsyncSession, keys: CustomerKeys | Sequence[CustomerKeys], *, except_id: int | None = None
) -> AsyncIterator[None]:
    """Write a new or renamed customer (or new customers: several keys) inside, under a savepoint flushed on the way
    out: a concurrent request that wrote the same name or phone first (the unique indexes' doing) is the same 409 as
    one the check saw. The change must be made inside: one made before would roll back with the savepoint's whole
    transaction."""
    try:
        async with session.begin_nested():
            yield
            await session.flush()
    except IntegrityError:
        if isinstance(keys, CustomerKeys):
            await ensure_not_duplicate(session, keys, except_id=except_id)
        else:
            await ensure_none_duplicate(session, keys)
        raise


async def ensure_none_duplicate(session: AsyncSession, keys: Sequence[CustomerKeys]) -> None:
    """ensure_not_duplicate for new customers written together: none may share a key with a live customer, nor with
    another of them."""
    for matches in await duplicates_of(session, keys):
        if matches:
            raise duplicate_error(matches[0])
    if len(keys) > 1:
        first: dict[tuple[str, str], int] = {}
        for index, key in enumerate(keys):
            for on in DUPLICATE_KEYS:
                value = getattr(key, on)
                if value and first.setdefault((on, value), index) != index:
                    raise Conflict(f"Two of the new customers have the same {on}", code="customer.duplicate")


async def import_duplicates(
    session: AsyncSession, rows: Sequence[tuple[int, CustomerCreate]], earlier: dict[Any, int]
) -> dict[int, tuple[str, str, DuplicateMatch | None]]:
    """The duplicate guard on an import's new customers, in one query: row number -> the field, the reason and the
    live customer, for the rows sharing a key with a live customer or with an earlier row of the file (`earlier`:
    (key, value) -> the row that first had it, kept by the caller from chunk to chunk)."""
    keys = {}
    for number, data in rows:
        values = data.model_dump(include={"name", "phone", "email"})
        try:
            values |= normalized_phones(values, CUSTOMER_PHONES)
        except InvalidInput:
            values["phone_e164"] = None  # the create reports it
        keys[number] = CustomerKeys.of(values)
    refused: dict[int, tuple[str, str, DuplicateMatch | None]] = {}
    for (number, key), matches in zip(keys.items(), await duplicates_of(session, list(keys.values())), strict=True):
        if matches:
            refused[number] = (matches[0].matched_on, duplicate_message(matches[0]), matches[0])
            continue
        for on in DUPLICATE_KEYS:
            value = getattr(key, on)
            first = earlier.setdefault((on, value), number) if value else number
            if first != number:
                refused[number] = (on, f"Row {first} has the same {on}", None)
                break
    return refused


def ensure_can_own(actor: Principal) -> int:
    """Who creates a customer owns it: a person holding customers:write. Returns their user id."""
    actor.require("customers:write")
    if actor.user_id is None:
        raise Forbidden("A customer is owned by a person; an API key cannot create one", code="customer.owner_required")
    return actor.user_id


async def _new_customer(
    session: AsyncSession, actor: Principal, data: CustomerCreate, values: dict[str, Any], keys: CustomerKeys
) -> Customer:
    """The customer `data` asks for (`values`: its checked columns), its remaining rules checked: custom fields (after
    the replay check, so a replay is not its own unique value), the duplicate guard."""
    values["custom_fields"] = await custom_fields.validate_values(session, CustomFieldEntity.CUSTOMER, data.custom_fields)
    await ensure_not_duplicate(session, keys)
    if actor.full_name is not None:  # the owner and creator: named without a lookup
        names_known(session, User.full_name, {actor.user_id: actor.full_name})
    return Customer(
        **values,
        **offline.client_columns(data),
        code=await next_code(session, "KH"),
        owner_id=actor.user_id,
        created_by_id=actor.user_id,
        status=CustomerStatus.ACTIVE,
        tags=[CustomerTag(tag=name) for name in data.tags or []],
    )


async def create_customer(session: AsyncSession, actor: Principal, data: CustomerCreate) -> Created[Customer]:
    """A new active customer owned by the actor, who must hold customers:write (or, replayed, the one an earlier
    create with the same `client_id` made, if the actor still sees it)."""
    ensure_can_own(actor)
    [values] = await _checked_columns(session, [data], with_custom_fields=False)
    keys = CustomerKeys.of(values)
    make = partial(_new_customer, session, actor, data, values, keys)
    # The replay check comes first: a replayed create would otherwise be its own duplicate.
    async with guarded(session, keys):
        created = await offline.create_once(session, Customer, creator_id=actor.user_id, body=data, make=make)
    if created.replayed:
        return Created(await get_customer(session, actor, created.record.id), replayed=True)
    customer = created.record
    # Its first owner and its event are written with its audit event: one round trip.
    first_owner = _OWNERSHIP.write(_ownership_row(customer, OwnershipAction.CREATE, actor, from_user_id=None))
    created_event = CUSTOMER_EVENTS.written("created", customer.id, to_read(customer))
    await audit.record_change(
        session,
        actor=actor,
        entity_type="customer",
        entity=customer,
        action="create",
        before=None,
        view=audit_view,
        together=(first_owner, created_event),
    )
    return Created(customer)


async def _checked_columns(
    session: AsyncSession, items: Sequence[CustomerCreate], *, with_custom_fields: bool
) -> list[dict[str, Any]]:
    """The columns of each new customer, phones normalized, every rule's refusal of an item raised at once so a person
    fixes a row in one go: dictionary values, phones, and custom fields unless the caller checks them later. Of many
    items, those refused are named by their index (InvalidItems), so the others can be written without them."""
    rows = [data.model_dump(exclude={"tags", *offline.REQUEST_FIELDS}, exclude_none=True) for data in items]
    rules = await custom_fields.rules_for(session, CustomFieldEntity.CUSTOMER) if with_custom_fields else None
    refused: dict[int, InvalidInput] = {}
    for index, (data, values) in enumerate(zip(items, rows, strict=True)):
        refusals = await refused_fields(
            session, {name: (category, values.get(name)) for name, category in DICTIONARY_FIELDS.items()}
        )
        try:
            values |= normalized_phones(values, CUSTOMER_PHONES)
        except InvalidInput as exc:
            refusals.append(exc)
        if rules is not None:
            try:
                values["custom_fields"] = await custom_fields.validate_values(
                    session, CustomFieldEntity.CUSTOMER, data.custom_fields, rules=rules
                )
            except InvalidInput as exc:
                refusals.append(exc)
        if refusals:
            refused[index] = (
                refusals[0]
                if len(refusals) == 1
                else InvalidInput.many([error for exc in refusals for error in exc.errors], "Several fields are invalid")
            )
    if len(items) == 1 and refused:
        raise refused[0]
    if refused:
        raise InvalidItems(refused)
    return rows


async def create_customers(
    session: AsyncSession, actor: Principal, items: Sequence[CustomerCreate], *, screened: bool = False
) -> list[int]:
    """create_customer for many (an import's chunk): the same rules, checked for each before any is written. They are
    written set-based, an INSERT per table whatever their number and no ORM object each, which is most of what an
    import costs per row. Returns their ids, in the order of `items`.

    `screened`: `import_duplicates` let these rows through in this transaction, so the duplicate guard's lookup is
    not run a second time; its unique indexes still refuse a duplicate written meanwhile."""
    owner_id = ensure_can_own(actor)
    rows = await _checked_columns(session, items, with_custom_fields=True)
    keys = [CustomerKeys.of(values) for values in rows]
    if not screened:
        await ensure_none_duplicate(session, keys)
    columns = set().union(*rows)  # one INSERT takes the same columns from every row: a value left out is None
    new = [
        {column: values.get(column) for column in columns}
        | {
            "code": code,
            "name_normalized": normalize_company_name(values["name"]),
            "owner_id": owner_id,
            "created_by_id": owner_id,
            "status": CustomerStatus.ACTIVE,
        }
        for values, code in zip(rows, await next_codes(session, "KH", len(rows)), strict=True)
    ]
    repo = CustomerRepository(session)
    async with guarded(session, keys):
        created = await repo.insert_many(new)
        await repo.insert_tags(
            [
                {"customer_id": record["id"], "tag": tag}
                for record, data in zip(created, items, strict=True)
                for tag in data.tags or []
            ]
        )
    owner_name = (await repo.user_names([owner_id])).get(owner_id)
    reads = {
        record["id"]: read_of_columns(record | {"owner_name": owner_name, "created_by_name": owner_name, "tags": data.tags or []})
        for record, data in zip(created, items, strict=True)
    }
    await audit.record_creations(
        session,
        actor=actor,
        entity_type="customer",
        model=Customer,
        created={
            read.id: _audit_view_of(audit.columns_of(Customer, record), read.tags)
            for read, record in zip(reads.values(), created, strict=True)
        },
    )
    await repo.add_ownership_changes(list(reads), OwnershipAction.CREATE, owner_id, clock.now())
    await CUSTOMER_EVENTS.publish_many(session, "created", reads)
    return list(reads)


async def ids_by_external_id(session: AsyncSession, external_ids: Collection[str]) -> dict[str, int]:
    """external_id -> id of the customers (live or in the recycle bin) that carry one of them."""
    return await CustomerRepository(session).ids_by_external_id(external_ids)


async def contact_ids_by_external_id(session: AsyncSession, external_ids: Collection[str]) -> dict[str, int]:
    """external_id -> id of the contacts that carry one of them."""
    return await ContactRepository(session).ids_by_external_id(external_ids)


async def ids_by_code(session: AsyncSession, codes: Collection[str]) -> dict[str, int]:
    """code -> id of the live customers with one of these codes."""
    return await CustomerRepository(session).ids_by_code(codes)


async def update_customer(
    session: AsyncSession, actor: Principal, customer_id: int, data: CustomerUpdate, *, if_match: str | None = None
) -> Customer:
    customer = await writable_customer(session, actor, customer_id, for_update=if_match is not None)
    check_if_match(if_match, customer, lambda: to_read(customer))
    before = audit_view(customer)
    changes = data.changes()
    # A value kept as it is passes even if its dictionary item has been deactivated since.
    await ensure_dictionary_values(session, {k: v for k, v in changes.items() if v != getattr(customer, k)})
    changes |= normalized_phones(changes, CUSTOMER_PHONES)
    if "custom_fields" in changes:
        changes["custom_fields"] = await custom_fields.validate_values(
            session, CustomFieldEntity.CUSTOMER, changes["custom_fields"], current=customer.custom_fields, record_id=customer.id
        )
    # Only a value that changes is compared: a legacy duplicate may still be edited otherwise.
    keys = CustomerKeys.of({k: v for k, v in changes.items() if v != getattr(customer, k, None)})
    await ensure_not_duplicate(session, keys, except_id=customer.id)
    async with guarded(session, keys, except_id=customer.id):
        if "tags" in changes:
            apply_tags(customer, changes.pop("tags"))
        for name, value in changes.items():
            setattr(customer, name, value)
    await audit.record_change(
        session, actor=actor, entity_type="customer", entity=customer, action="update", before=before, view=audit_view
    )
    await CUSTOMER_EVENTS.publish(session, "updated", customer.id, to_read(customer))
    return customer


async def delete_customer(session: AsyncSession, actor: Principal, customer_id: int) -> None:
    """Soft delete: hidden from every list and lookup until restored."""
    customer = await load_customer(session, actor, customer_id, "customers:delete")
    before = audit_view(customer)
    customer.deleted_at = clock.now()
    await audit.record_change(
        session, actor=actor, entity_type="customer", entity=customer, action="delete", before=before, view=audit_view
    )
    await CUSTOMER_EVENTS.publish(session, "deleted", customer.id, to_read(customer))


async def restore_customer(session: AsyncSession, actor: Principal, customer_id: int) -> Customer:
    customer = await load_customer(session, actor, customer_id, "customers:delete", include_deleted=True)
    if customer.deleted_at is None:
        raise Conflict(f"Customer {customer.code} is not deleted", code="customer.not_deleted")
    keys = CustomerKeys.of({"name": customer.name, "phone_e164": customer.phone_e164, "email": customer.email})
    await ensure_not_duplicate(session, keys, except_id=customer.id)
    before = audit_view(customer)
    async with guarded(session, keys, except_id=customer.id):
        customer.deleted_at = None
    await audit.record_change(
        session, actor=actor, entity_type="customer", entity=customer, action="restore", before=before, view=audit_view
    )
    return customer


async def transfer_target(session: AsyncSession, actor: Principal, owner_id: int) -> User:
    owner = await session.get(User, owner_id)
    if owner is None or not owner.active:
        raise InvalidInput("owner_id", f"User {owner_id} is not an active user", code="customer.owner_inactive")
    if not policy.may_transfer_to(actor, owner):
        raise InvalidInput("owner_id", "The new owner must be in your team", code="customer.owner_outside_team")
    return owner


def hand_over(customer: Customer, owner_id: int) -> int | None:
    """Make `owner_id` the owner; the previous owner. A lock is its owner's: it ends, the new owner decides again."""
    previous_owner_id = customer.owner_id
    if owner_id != previous_owner_id:
        customer.owner_id, customer.locked_at = owner_id, None
    return previous_owner_id


async def transfer_customer(session: AsyncSession, actor: Principal, customer_id: int, data: CustomerTransfer) -> Customer:
    """Give the customer to another account manager (the only way its owner changes)."""
    customer = await load_customer(session, actor, customer_id, "customers:transfer")
    ensure_active(customer)
    owner = await transfer_target(session, actor, data.owner_id)
    if owner.id == customer.owner_id:
        return customer
    before = audit_view(customer)
    previous_owner_id = hand_over(customer, owner.id)
    await audit.record_change(
        session, actor=actor, entity_type="customer", entity=customer, action="transfer", before=before, view=audit_view
    )
    record_ownership(session, customer, OwnershipAction.TRANSFER, actor, from_user_id=previous_owner_id)
    return customer


# The pool (公海): customers without an owner, claimed and released (§3.12).


def record_ownership(
    session: AsyncSession,
    customer: Customer,
    action: OwnershipAction,
    actor: Principal | None,
    *,
    from_user_id: int | None,
    reason: str | None = None,
) -> None:
    """A row of the customer's ownership history: from `from_user_id` to its owner now (None: the pool); no actor:
    a job moved it."""
    session.add(OwnershipChange(**_ownership_row(customer, action, actor, from_user_id=from_user_id, reason=reason)))


def _ownership_row(
    customer: Customer, action: OwnershipAction, actor: Principal | None, *, from_user_id: int | None, reason: str | None = None
) -> dict[str, Any]:
    return {
        "customer_id": customer.id,
        "from_user_id": from_user_id,
        "to_user_id": customer.owner_id,
        "action": action,
        "reason": reason,
        "actor_id": actor.user_id if actor is not None else None,
        "at": clock.now(),
    }


# An ownership row's INSERT, written with the audit event of the change that made it.
_OWNERSHIP = BoundInsert(OwnershipChange.__table__, "ownership_")


def mask_phone(value: str | None) -> str | None:
    """`13812345678` -> `138****5678`: the first three and last four characters, the rest hidden."""
    if value is None:
        return None
    return f"{value[:3]}****{value[-4:]}" if len(value) > 7 else "****"


def mask_email(value: str | None) -> str | None:
    """`chen.jing@example.com` -> `c****@example.com`."""
    if value is None:
        return None
    local, _, domain = value.partition("@")
    return f"{local[:1]}****@{domain}"


def to_pool_read(customer: Customer) -> PoolCustomerRead:
    read = PoolCustomerRead.model_validate(customer)
    return read.model_copy(
        update={
            "phone": mask_phone(read.phone),
            "phone_e164": mask_phone(read.phone_e164),
            "fax": mask_phone(read.fax),
            "email": mask_email(read.email),
        }
    )


async def list_pool(
    session: AsyncSession, principal: Principal, params: PageParams, filters: CustomerSearch, custom: PrefixedParams
) -> Page[PoolCustomerRead]:
    """Live customers without an owner, to whoever may own customers; their phones and email masked."""
    repo = CustomerRepository(session)
    pooled = repo.select().where(policy.in_pool(principal))
    custom_conditions = await custom_fields.filter_conditions(session, CustomFieldEntity.CUSTOMER, custom)
    statement = repo.filtered(repo.with_tags(pooled), filters, custom_conditions)
    return (await repo.page(statement, params, window=_window(filters))).to_page(to_pool_read)


def already_owned(customer_id: int, owner_name: str | None) -> Conflict:
    return Conflict(
        f"Customer {customer_id} is already owned by {owner_name}", code="customer.already_owned", owner_name=owner_name
    )


async def claim_customer(session: AsyncSession, actor: Principal, settings: Settings, customer_id: int) -> Customer:
    """The caller becomes the owner of a pool customer, by one conditional UPDATE: of concurrent claims one wins."""
    ensure_can_own(actor)
    assert actor.user_id is not None  # ensure_can_own refuses API keys
    me = actor.user_id
    repo = CustomerRepository(session)
    customer = await repo.one_with_tags(repo.select().where(Customer.id == customer_id))
    if customer is None:
        raise NotFound("Customer", customer_id)
    if customer.owner_id is not None:
        raise already_owned(customer_id, (await repo.owner_name(customer_id))[1])
    ensure_active(customer)
    own_limit = await repo.hold_user(me)
    limit = own_limit if own_limit is not None else settings.pool_claim_limit
    released_at = await repo.last_release_by(customer_id, me)
    cooldown = timedelta(days=settings.pool_claim_cooldown_days)
    if released_at is not None and clock.now() < released_at + cooldown:
        raise Conflict(
            f"You released customer {customer.code}; you may claim it again from {(released_at + cooldown).isoformat()}",
            code="customer.claim_cooldown",
            claimable_at=(released_at + cooldown).isoformat(),
        )
    owned = await repo.owned_active(me)
    if owned >= limit:
        raise Conflict(
            f"You own {owned} active customers, the most you may own and still claim is {limit}",
            code="customer.claim_limit",
            limit=limit,
        )
    before = audit_view(customer)
    claimed = await repo.claim(customer_id, me)
    if claimed is None:
        # A fresh statement: under READ COMMITTED it sees what the winner committed.
        live, owner_name = await repo.owner_name(customer_id)
        if not live:
            raise NotFound("Customer", customer_id)
        if owner_name is not None:
            raise already_owned(customer_id, owner_name)
        raise Conflict(f"Customer {customer.code} was changed by someone else", code="customer.changed")
    claimed = await reloaded(repo, customer_id)
    await audit.record_change(
        session, actor=actor, entity_type="customer", entity=claimed, action="claim", before=before, view=audit_view
    )
    record_ownership(session, claimed, OwnershipAction.CLAIM, actor, from_user_id=None)
    await publish_ownership(session, CLAIMED, claimed)
    return claimed


async def publish_ownership(session: AsyncSession, event: EventType, customer: Customer) -> None:
    await event.publish(session, entity_type="customer", entity_id=customer.id, payload=to_read(customer))


async def reloaded(repo: CustomerRepository, customer_id: int) -> Customer:
    """The customer as its last statement left it, with its tags (a RETURNING refresh leaves them unloaded)."""
    customer = await repo.one_with_tags(repo.select(include_deleted=True).where(Customer.id == customer_id))
    assert customer is not None
    return customer


async def release_customer(session: AsyncSession, actor: Principal, customer_id: int, data: CustomerRelease) -> Customer:
    """Back to the pool: by its owner, or whoever holds its owner in their customers:write scope (supervisor, admin)."""
    customer = await load_customer(session, actor, customer_id, "customers:write")
    ensure_active(customer)
    before = audit_view(customer)
    previous_owner_id = customer.owner_id
    # A lock is the owner's: it goes with them.
    await compare_and_set(session, customer, entity_type="customer", changes={"owner_id": None, "locked_at": None})
    released = await reloaded(CustomerRepository(session), customer_id)
    await audit.record_change(
        session, actor=actor, entity_type="customer", entity=released, action="release", before=before, view=audit_view
    )
    record_ownership(session, released, OwnershipAction.RELEASE, actor, from_user_id=previous_owner_id, reason=data.reason)
    await publish_ownership(session, RELEASED, released)
    return released


async def ownership_history(
    session: AsyncSession, principal: Principal, customer_id: int, params: PageParams
) -> Page[OwnershipChangeRead]:
    """Every ownership move of a customer the caller sees, or of a pool customer to whoever may claim it; oldest first."""
    repo = CustomerRepository(session)
    visible = repo.select().where(Customer.id == customer_id, policy.visible_or_pooled(principal, "customers:read"))
    if await session.scalar(visible.with_only_columns(Customer.id)) is None:
        raise NotFound("Customer", customer_id)
    rows = await repo.page(repo.ownership_history(customer_id), params, Sort([OwnershipChange.id], descending=False))
    changes: list[OwnershipChange] = rows.rows
    names = await repo.user_names(i for c in changes for i in (c.from_user_id, c.to_user_id, c.actor_id))

    def read(change: OwnershipChange) -> OwnershipChangeRead:
        return OwnershipChangeRead(
            id=change.id,
            customer_id=change.customer_id,
            action=change.action,
            from_user_id=change.from_user_id,
            from_user_name=names.get(change.from_user_id) if change.from_user_id else None,
            to_user_id=change.to_user_id,
            to_user_name=names.get(change.to_user_id) if change.to_user_id else None,
            reason=change.reason,
            actor_id=change.actor_id,
            actor_name=names.get(change.actor_id) if change.actor_id else None,
            at=change.at,
        )

    return rows.to_page(read)


# Contacts and interactions: records of one customer, reached only through it.


Record = TypeVar("Record", Contact, Interaction)


@dataclass(frozen=True)
class CustomerRecords(Generic[Record]):
    """A kind of record that belongs to exactly one customer."""

    repository: type[CustomerRecordRepository[Record]]
    label: str
    read: type[OutputModel]
    order: Sort
    events: RecordEvents
    # Phone input fields -> the column keeping their E.164 form.
    phones: dict[str, str] = field(default_factory=dict)
    # The entity whose custom fields the records carry; None: they have none.
    custom_fields: CustomFieldEntity | None = None

    @property
    def entity_type(self) -> str:
        return self.label.lower()

    def written(self, change: RecordChange, record: Record) -> Write:
        return self.events.written(change, record.id, self.read.model_validate(record))

    async def publish(self, session: AsyncSession, change: RecordChange, record: Record) -> None:
        await session.execute(*self.written(change, record))


CONTACTS = CustomerRecords(
    ContactRepository,
    "Contact",
    ContactRead,
    Sort([Contact.id], descending=False),
    RecordEvents("contact", ContactRead, "A contact of a customer"),
    {"office_phone": "office_phone_e164", "mobile": "mobile_e164"},
    CustomFieldEntity.CONTACT,
)
INTERACTIONS = CustomerRecords(
    InteractionRepository,
    "Interaction",
    InteractionRead,
    INTERACTION_ORDER,
    RecordEvents("interaction", InteractionRead, "An interaction with a customer"),
)


async def _record_of(
    session: AsyncSession, kind: CustomerRecords[Record], customer: Customer, record_id: int, *, for_update: bool = False
) -> Record:
    """The record under this customer; one under another customer is a 404."""
    record = await kind.repository(session).get_of_customer(customer.id, record_id, for_update=for_update)
    if record is None:
        raise NotFound(kind.label, record_id)
    return record


async def contact_of(session: AsyncSession, customer: Customer, contact_id: int) -> Contact:
    """The contact under this customer (reached through its scope first); one under another customer is a 404."""
    return await _record_of(session, CONTACTS, customer, contact_id)


async def contacts_of(session: AsyncSession, customer_id: int) -> list[Contact]:
    """The customer's contacts, in the order they were added."""
    statement = ContactRepository(session).of_customer(customer_id).order_by(*CONTACTS.order.keys)
    return list(await session.scalars(statement))


async def interactions_of(session: AsyncSession, customer_id: int) -> list[Interaction]:
    """The customer's interactions in the order recorded."""
    return list(await session.scalars(InteractionRepository(session).of_customer(customer_id).order_by(Interaction.id)))


async def orders_summary(session: AsyncSession, customer_id: int) -> OrdersSummary:
    return OrdersSummary.model_validate(await CustomerRepository(session).orders_summary(customer_id))


async def list_records(
    session: AsyncSession,
    principal: Principal,
    kind: CustomerRecords[Any],
    customer_id: int,
    params: PageParams,
    custom: PrefixedParams,
) -> Page[Any]:
    customer = await get_customer(session, principal, customer_id)
    custom_conditions = []
    if custom:
        if kind.custom_fields is None:
            raise InvalidInput(f"cf.{custom[0][0]}", f"{kind.label}s have no custom fields", code="custom_field.invalid_filter")
        custom_conditions = await custom_fields.filter_conditions(session, kind.custom_fields, custom)
    repo = kind.repository(session)
    statement = repo.of_customer(customer.id).where(*custom_conditions)
    return (await repo.page(statement, params, kind.order)).to_page(kind.read.model_validate)


async def get_record(
    session: AsyncSession, principal: Principal, kind: CustomerRecords[Any], customer_id: int, record_id: int
) -> Any:
    return await _record_of(session, kind, await get_customer(session, principal, customer_id), record_id)


async def _add_record(
    session: AsyncSession,
    actor: Principal,
    kind: CustomerRecords[Record],
    customer_id: int,
    data: InputModel,
    values: dict[str, Any],
) -> Created[Record]:
    """A new record of the customer from `data` (its columns: `values`), or, replayed, the one an earlier create with
    the same `client_id` made."""

    async def make() -> Record:
        customer = await _writable_head(session, actor, customer_id)
        names_known(session, Customer.name, {customer.id: customer.name})
        if actor.full_name is not None:
            names_known(session, User.full_name, {actor.user_id: actor.full_name})
        if kind.custom_fields is not None:
            values["custom_fields"] = await custom_fields.validate_values(
                session, kind.custom_fields, values.get("custom_fields")
            )
        return kind.repository.model(
            customer_id=customer.id,
            created_by_id=actor.user_id,
            **values,
            **normalized_phones(values, kind.phones),
            **offline.client_columns(data, customer_id=customer.id),
        )

    model = kind.repository.model
    created = await offline.create_once(session, model, creator_id=actor.user_id, body=data, make=make, customer_id=customer_id)
    if created.replayed:
        return Created(await get_record(session, actor, kind, customer_id, created.record.id), replayed=True)
    record: Record = created.record
    await audit.record_change(
        session,
        actor=actor,
        entity_type=kind.entity_type,
        entity=record,
        action="create",
        before=None,
        together=(kind.written("created", record),),
    )
    return Created(record)


async def update_record(
    session: AsyncSession,
    actor: Principal,
    kind: CustomerRecords[Any],
    customer_id: int,
    record_id: int,
    data: PatchModel,
    *,
    if_match: str | None = None,
) -> Any:
    customer = await writable_customer(session, actor, customer_id)
    record = await _record_of(session, kind, customer, record_id, for_update=if_match is not None)
    if isinstance(record, Contact):
        ensure_not_erased(record)
    check_if_match(if_match, record, lambda: kind.read.model_validate(record))
    before = audit.snapshot(record)
    changes = data.changes()
    if "custom_fields" in changes and kind.custom_fields is not None:
        changes["custom_fields"] = await custom_fields.validate_values(
            session, kind.custom_fields, changes["custom_fields"], current=record.custom_fields, record_id=record.id
        )
    for name, value in (changes | normalized_phones(changes, kind.phones)).items():
        setattr(record, name, value)
    await audit.record_change(session, actor=actor, entity_type=kind.entity_type, entity=record, action="update", before=before)
    await kind.publish(session, "updated", record)
    return record


async def delete_record(
    session: AsyncSession, actor: Principal, kind: CustomerRecords[Any], customer_id: int, record_id: int
) -> None:
    customer = await writable_customer(session, actor, customer_id)
    record = await _record_of(session, kind, customer, record_id)
    if isinstance(record, Contact):
        ensure_not_erased(record)
    await kind.publish(session, "deleted", record)
    await audit.delete_recorded(session, actor=actor, entity_type=kind.entity_type, entity=record)


async def add_contact(session: AsyncSession, actor: Principal, customer_id: int, data: ContactCreate) -> Created[Contact]:
    """A new contact of an active customer the actor may change."""
    return await _add_record(session, actor, CONTACTS, customer_id, data, data.model_dump(exclude=offline.REQUEST_FIELDS))


async def add_interaction(
    session: AsyncSession, actor: Principal, customer_id: int, data: InteractionCreate
) -> Created[Interaction]:
    """A new interaction; a field visit's check-in goes into its own columns."""
    values = data.model_dump(exclude={"check_in", *offline.REQUEST_FIELDS})
    if data.check_in is not None:
        check_in = data.check_in
        values |= {
            "checkin_latitude": check_in.latitude,
            "checkin_longitude": check_in.longitude,
            "checkin_accuracy_m": check_in.accuracy_m,
            "checked_in_at": check_in.checked_in_at,
        }
    return await _add_record(session, actor, INTERACTIONS, customer_id, data, values)
