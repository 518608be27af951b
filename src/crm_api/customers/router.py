from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, File, Path, Query, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import offline
from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import DatabaseDep, SessionDep
from crm_api.core.http import ETag, IfMatch, Rendered, with_etag
from crm_api.core.offline import Created
from crm_api.core.pagination import Page, PageDep, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id, InputModel, PatchModel
from crm_api.custom_fields.schemas import FILTERS_DESCRIPTION, CustomFieldFilters
from crm_api.customers import bulk, duplicates, emails, exports, imports, merge, pool, service
from crm_api.customers.schemas import (
    ContactCreate,
    ContactEmailCreate,
    ContactEmailSent,
    ContactUpdate,
    CustomerBulkResult,
    CustomerBulkUpdate,
    CustomerCreate,
    CustomerFilters,
    CustomerMerge,
    CustomerMergeResult,
    CustomerRead,
    CustomerRelease,
    CustomerSearch,
    CustomerTransfer,
    CustomerUpdate,
    DuplicatePair,
    ExportFormat,
    ImportMode,
    ImportReport,
    InteractionCreate,
    InteractionUpdate,
    OwnershipChangeRead,
    PoolCustomerRead,
    RecycleRules,
    RecycleRulesRead,
)

# FastAPI tries a selected router's routes one by one, twice a request, at about 18,000 instructions a route a pass:
# the customers' routes are on four routers, so a request tries few routes not its own. The collection (the list, a
# create, import and export) comes first in main.py, so `/customers/export` is never read as a customer's id; then
# one customer's routes, and its contacts and interactions, each kind on a router of its own.
collection_router = DomainRouter(prefix="/customers", tags=["customers"])
router = DomainRouter(prefix="/customers", tags=["customers"])
contacts_router = DomainRouter(prefix="/customers", tags=["customers"])
interactions_router = DomainRouter(prefix="/customers", tags=["customers"])
pool_router = DomainRouter(prefix="/customer-pool", tags=["customers"])

CustomersRead = Annotated[Principal, Depends(require("customers:read"))]
CustomersWrite = Annotated[Principal, Depends(require("customers:write"))]
CustomersDelete = Annotated[Principal, Depends(require("customers:delete"))]
CustomersTransfer = Annotated[Principal, Depends(require("customers:transfer"))]
SettingsWrite = Annotated[Principal, Depends(require("settings:write"))]


CustomerPage = Annotated[PageParams, listing("CustomerSort", "code", "name", "created_at", "updated_at")]


@collection_router.get(
    "",
    response_model=Page[CustomerRead],
    summary="List and search customers, newest first",
    description=FILTERS_DESCRIPTION,
)
async def list_customers(
    principal: CustomersRead,
    session: SessionDep,
    page: CustomerPage,
    filters: Annotated[CustomerFilters, Query()],
    custom: CustomFieldFilters,
) -> Rendered:
    return Rendered(await service.list_customers(session, principal, page, filters, custom))


@collection_router.post(
    "",
    response_model=CustomerRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a customer owned by the caller",
    description='409 `customer.duplicate` (with `duplicate`: id, name, owner_name or "pool") when a live customer '
    "has the same normalized name, E.164 phone or email.",
    responses=offline.replay_response(CustomerRead),
)
@raises(
    "customer.duplicate",
    "customer.not_found",
    "client_id.reused",
    "customer.owner_required",
    "dictionary.unknown_value",
    "phone.invalid",
)
async def create_customer(
    body: CustomerCreate, principal: CustomersWrite, session: SessionDep, response: Response
) -> CustomerRead:
    return service.to_read((await service.create_customer(session, principal, body)).answer(response))


# The tools' fixed paths: on the collection's router, which main.py includes before the one of /{customer_id}.


@collection_router.post(
    "/import",
    response_model=ImportReport,
    summary="Import customers from a CSV or XLSX file",
    description="The header row names the fields (English field names or the Chinese labels: 客户名称, 地区, "
    "客户等级, 电话 …) and the active custom fields (by key or label). Every row is checked like a create, the "
    "duplicate guard too (a row matching a live customer or an earlier row is a row error naming it); the importer "
    "owns the new customers. 409 `customer.duplicate` when a concurrent request created one of the rows' customers "
    "first.",
)
@raises("customer.owner_required", "import.person_required", "upload.too_large")
async def import_customers(
    principal: CustomersWrite,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A .csv (UTF-8 or GB18030) or .xlsx file")],
    dry_run: Annotated[bool, Query(description="Check and report only; nothing is written")] = False,
    mode: Annotated[ImportMode, Query(description="all_or_nothing: any invalid row fails the import (422)")] = ("all_or_nothing"),
) -> ImportReport:
    return await imports.import_customers(
        session,
        settings,
        principal,
        upload=file.file,
        filename=file.filename or "",
        size=file.size or 0,
        dry_run=dry_run,
        mode=mode,
    )


@collection_router.get(
    "/export",
    response_class=StreamingResponse,
    summary="Export the filtered customer list as CSV or XLSX",
    description="One column per field, then one per active custom field, headed by its label. " + FILTERS_DESCRIPTION,
    responses={
        200: {"content": {media: {} for media in exports.MEDIA_TYPES.values()}, "description": "The file, streamed"},
    },
)
async def export_customers(
    principal: CustomersRead,
    database: DatabaseDep,
    filters: Annotated[CustomerSearch, Query()],
    custom: CustomFieldFilters,
    format: Annotated[ExportFormat, Query()] = "csv",
) -> StreamingResponse:
    export = await exports.export_customers(database, principal, filters, custom, format)
    return StreamingResponse(
        export.body,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@collection_router.get(
    "/duplicates",
    response_model=Page[DuplicatePair],
    summary="Pairs of customers that may be the same company (name, phone, email), likeliest first",
)
@raises("pagination.invalid_cursor")
async def list_duplicates(principal: CustomersRead, session: SessionDep, page: PageDep) -> Page[DuplicatePair]:
    return await duplicates.list_duplicates(session, principal, page)


@collection_router.post(
    "/bulk-update",
    response_model=CustomerBulkResult,
    summary="Change level, tags or owner of up to 500 customers, all or none",
)
@raises(
    "customer.not_found",
    "customer.not_active",
    "customer.owner_inactive",
    "customer.owner_outside_team",
    "dictionary.unknown_value",
    "privacy.erased",
)
async def bulk_update(body: CustomerBulkUpdate, principal: CustomersWrite, session: SessionDep) -> CustomerBulkResult:
    return CustomerBulkResult(updated=await bulk.bulk_update(session, principal, body))


@router.get("/{customer_id}", response_model=CustomerRead, summary="Get a customer")
async def get_customer(customer_id: Id, principal: CustomersRead, session: SessionDep, etag: ETag) -> Rendered:
    return etag.rendered(await service.read_customer(session, principal, customer_id))


@router.patch(
    "/{customer_id}",
    response_model=CustomerRead,
    summary="Change an active customer",
)
@raises("customer.duplicate", "customer.not_active", "dictionary.unknown_value", "phone.invalid", "privacy.erased")
async def update_customer(
    customer_id: Id,
    body: CustomerUpdate,
    principal: CustomersWrite,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> CustomerRead:
    customer = await service.update_customer(session, principal, customer_id, body, if_match=if_match)
    return with_etag(response, service.to_read(customer))


@router.delete(
    "/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Soft-delete a customer (restorable)",
)
async def delete_customer(customer_id: Id, principal: CustomersDelete, session: SessionDep) -> None:
    await service.delete_customer(session, principal, customer_id)


@router.post(
    "/{customer_id}/restore",
    response_model=CustomerRead,
    summary="Restore a soft-deleted customer",
)
@raises("customer.duplicate", "customer.not_deleted")
async def restore_customer(customer_id: Id, principal: CustomersDelete, session: SessionDep) -> CustomerRead:
    return service.to_read(await service.restore_customer(session, principal, customer_id))


@router.post(
    "/{customer_id}/transfer",
    response_model=CustomerRead,
    summary="Give the customer to another account manager",
)
@raises("customer.not_active", "customer.owner_inactive", "customer.owner_outside_team", "privacy.erased")
async def transfer_customer(
    customer_id: Id, body: CustomerTransfer, principal: CustomersTransfer, session: SessionDep
) -> CustomerRead:
    return service.to_read(await service.transfer_customer(session, principal, customer_id, body))


@router.post(
    "/{customer_id}/claim",
    response_model=CustomerRead,
    summary="Claim a customer from the pool: the caller becomes its owner",
    description="One conditional update: of concurrent claims exactly one wins, the others get 409 "
    "`customer.already_owned` naming the owner. Refused with 409 `customer.claim_limit` when the caller owns "
    "CRM_POOL_CLAIM_LIMIT active customers, and `customer.claim_cooldown` within CRM_POOL_CLAIM_COOLDOWN_DAYS "
    "of the caller releasing it.",
)
@raises(
    "customer.already_owned",
    "customer.changed",
    "customer.claim_cooldown",
    "customer.claim_limit",
    "customer.not_active",
    "customer.owner_required",
    "privacy.erased",
)
async def claim_customer(customer_id: Id, principal: CustomersWrite, session: SessionDep, settings: SettingsDep) -> CustomerRead:
    return service.to_read(await service.claim_customer(session, principal, settings, customer_id))


@router.post(
    "/{customer_id}/release",
    response_model=CustomerRead,
    summary="Put a customer back into the pool (its owner, or their supervisor or an admin)",
)
@raises("customer.changed", "customer.not_active", "privacy.erased")
async def release_customer(
    customer_id: Id, body: CustomerRelease, principal: CustomersWrite, session: SessionDep
) -> CustomerRead:
    return service.to_read(await service.release_customer(session, principal, customer_id, body))


@router.post(
    "/{customer_id}/lock",
    response_model=CustomerRead,
    summary="Lock a customer: the recycle job leaves it with its owner (its owner, their supervisor or an admin)",
    description="Refused with 409 `customer.lock_limit` when its owner already has CRM_POOL_LOCK_LIMIT locked "
    "customers, `customer.already_locked`, and `customer.in_pool` for a customer without an owner.",
)
@raises(
    "customer.already_locked",
    "customer.changed",
    "customer.in_pool",
    "customer.lock_limit",
    "customer.not_active",
    "privacy.erased",
)
async def lock_customer(customer_id: Id, principal: CustomersWrite, session: SessionDep, settings: SettingsDep) -> CustomerRead:
    return service.to_read(await pool.lock_customer(session, principal, settings, customer_id))


@router.post(
    "/{customer_id}/unlock",
    response_model=CustomerRead,
    summary="Unlock a customer: the recycle rules apply to it again",
)
@raises("customer.changed", "customer.not_active", "customer.not_locked", "privacy.erased")
async def unlock_customer(customer_id: Id, principal: CustomersWrite, session: SessionDep) -> CustomerRead:
    return service.to_read(await pool.unlock_customer(session, principal, customer_id))


OwnershipChangePage = Annotated[PageParams, listing("OwnershipChangeSort", "at")]


@router.get(
    "/{customer_id}/ownership-history",
    response_model=Page[OwnershipChangeRead],
    summary="Who owned the customer, when and why (create, claim, release, recycle, transfer, merge, lock), oldest first",
)
async def ownership_history(
    customer_id: Id, principal: CustomersRead, session: SessionDep, page: OwnershipChangePage
) -> Page[OwnershipChangeRead]:
    return await service.ownership_history(session, principal, customer_id, page)


@router.post(
    "/{customer_id}/merge",
    response_model=CustomerMergeResult,
    summary="Merge a duplicate into this customer: its records move here, it is soft-deleted",
)
@raises("customer.merge_same", "customer.not_active", "privacy.erased")
async def merge_customers(
    customer_id: Id, body: CustomerMerge, principal: CustomersWrite, session: SessionDep
) -> CustomerMergeResult:
    survivor, moved = await merge.merge_customers(session, principal, customer_id, body.loser_id)
    return CustomerMergeResult(survivor=service.to_read(survivor), moved=moved)


def _customer_records(
    router: DomainRouter,
    kind: service.CustomerRecords[Any],
    path: str,
    plural: str,
    create_model: type[InputModel],
    update_model: type[PatchModel],
    add: Callable[[AsyncSession, Principal, int, Any], Awaitable[Any]],
    list_summary: str,
    sorting: Any,
) -> None:
    """The five routes of a kind of record that lives under one customer (contacts, interactions), on its own router."""
    read_model = kind.read
    one = kind.entity_type
    RecordId = Annotated[Id, Path(alias=f"{one}_id")]

    @router.get(
        f"/{{customer_id}}/{path}",
        response_model=Page[read_model],  # type: ignore[valid-type]  # the page of a model chosen at runtime
        summary=list_summary,
        description=FILTERS_DESCRIPTION
        if kind.custom_fields
        else f"{plural.capitalize()} have no custom fields: `cf.` is a 422.",
        name=f"list_{path}",
    )
    @raises("custom_field.invalid_filter")
    async def list_records(
        customer_id: Id,
        principal: CustomersRead,
        session: SessionDep,
        page: Annotated[PageParams, sorting],
        custom: CustomFieldFilters,
    ) -> Page[Any]:
        return await service.list_records(session, principal, kind, customer_id, page, custom)

    @router.post(
        f"/{{customer_id}}/{path}",
        response_model=read_model,
        status_code=status.HTTP_201_CREATED,
        summary=f"Add {plural} to an active customer",
        responses=offline.replay_response(read_model),
        name=f"add_{one}",
    )
    @raises("client_id.reused", "customer.not_active", "phone.invalid", "privacy.erased")
    async def add_record(
        customer_id: Id,
        body: create_model,  # type: ignore[valid-type]  # a model chosen at runtime; FastAPI reads the annotation
        principal: CustomersWrite,
        session: SessionDep,
        response: Response,
    ) -> Any:
        created: Created[Any] = await add(session, principal, customer_id, body)
        return read_model.model_validate(created.answer(response))

    @router.get(
        f"/{{customer_id}}/{path}/{{{one}_id}}",
        response_model=read_model,
        summary=f"Get {plural}",
        name=f"get_{one}",
    )
    async def get_record(customer_id: Id, record_id: RecordId, principal: CustomersRead, session: SessionDep, etag: ETag) -> Any:
        record = await service.get_record(session, principal, kind, customer_id, record_id)
        return etag(read_model.model_validate(record))

    @router.patch(
        f"/{{customer_id}}/{path}/{{{one}_id}}",
        response_model=read_model,
        summary=f"Change {plural} (required fields stay filled)",
        name=f"update_{one}",
    )
    @raises("customer.not_active", "phone.invalid", "privacy.erased")
    async def update_record(
        customer_id: Id,
        record_id: RecordId,
        body: update_model,  # type: ignore[valid-type]  # a model chosen at runtime; FastAPI reads the annotation
        principal: CustomersWrite,
        session: SessionDep,
        response: Response,
        if_match: IfMatch = None,
    ) -> Any:
        record = await service.update_record(session, principal, kind, customer_id, record_id, body, if_match=if_match)
        return with_etag(response, read_model.model_validate(record))

    @router.delete(
        f"/{{customer_id}}/{path}/{{{one}_id}}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary=f"Delete {plural}",
        name=f"delete_{one}",
    )
    @raises("customer.not_active", "privacy.erased")
    async def delete_record(customer_id: Id, record_id: RecordId, principal: CustomersWrite, session: SessionDep) -> None:
        await service.delete_record(session, principal, kind, customer_id, record_id)


_customer_records(
    contacts_router,
    service.CONTACTS,
    "contacts",
    "a contact",
    ContactCreate,
    ContactUpdate,
    service.add_contact,
    "List a customer's contacts",
    listing("ContactSort", "name", "created_at", "updated_at"),
)
_customer_records(
    interactions_router,
    service.INTERACTIONS,
    "interactions",
    "an interaction",
    InteractionCreate,
    InteractionUpdate,
    service.add_interaction,
    "List a customer's interactions, newest first",
    listing("InteractionSort", "occurred_on", "created_at", "updated_at"),
)


@router.post(
    "/{customer_id}/emails",
    response_model=ContactEmailSent,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Email a contact of the customer over SMTP, recorded as an interaction",
    description="Accepted: the email goes out through the delivery log (retried until sent); the interaction is recorded at once.",
)
@raises("client_id.reused", "contact.no_email", "customer.not_active", "phone.invalid", "privacy.erased")
async def email_contact(
    customer_id: Id, body: ContactEmailCreate, principal: CustomersWrite, session: SessionDep, settings: SettingsDep
) -> ContactEmailSent:
    return await emails.email_contact(session, principal, settings, customer_id, body)


@pool_router.get(
    "",
    response_model=Page[PoolCustomerRead],
    summary="List the customer pool (公海): customers without an owner, newest first; phones and email masked",
    description=FILTERS_DESCRIPTION,
)
async def list_pool(
    principal: CustomersWrite,
    session: SessionDep,
    page: CustomerPage,
    filters: Annotated[CustomerSearch, Query()],
    custom: CustomFieldFilters,
) -> Page[PoolCustomerRead]:
    return await service.list_pool(session, principal, page, filters, custom)
    return await service.list_pool(session, principal, page, filters)


@pool_router.get(
    "/recycle-rules",
    response_model=RecycleRulesRead,
    summary="The recycle rules: per customer level, when an owned customer goes back to the pool",
)
async def list_recycle_rules(_: CustomersRead, session: SessionDep) -> RecycleRulesRead:
    return RecycleRulesRead(rules=[pool.rule_read(rule) for rule in await pool.recycle_rules(session)])


@pool_router.put(
    "/recycle-rules",
    response_model=RecycleRulesRead,
    summary="Replace the recycle rules (admins); the daily pool_recycle job applies them",
    description="Per level (null: the default rule for every level without its own), a customer goes back to the "
    "pool after `no_interaction_days` without an interaction or `no_deal_days` without a won opportunity or a shipped "
    "order, counted from when its owner got it at the earliest; its owner gets a task `warning_days` before. "
    "Locked customers stay. An empty list turns recycling off.",
)
@raises("dictionary.unknown_value")
async def replace_recycle_rules(body: RecycleRules, principal: SettingsWrite, session: SessionDep) -> RecycleRulesRead:
    rules = await pool.replace_recycle_rules(session, principal, body)
    return RecycleRulesRead(rules=[pool.rule_read(rule) for rule in rules])
