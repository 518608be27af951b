"""Bulk update of up to 500 customers: level, tags and owner, all of them or none."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.errors import Conflict, NotFound
from crm_api.core.permissions import Principal
from crm_api.customers.policy import CustomerStatus, OwnershipAction
from crm_api.customers.repository import CustomerRepository
from crm_api.customers.schemas import CustomerBulkUpdate
from crm_api.customers.service import (
    apply_tags,
    audit_view,
    ensure_dictionary_values,
    hand_over,
    record_ownership,
    transfer_target,
)
from crm_api.models.customer import Customer


async def _all_or_refuse(session: AsyncSession, actor: Principal, ids: list[int], permissions: list[str]) -> list[Customer]:
    """The customers, if every one is in the actor's scope under each permission, not erased and active; else
    404/409 naming the offending ids."""
    repo = CustomerRepository(session)
    statement = repo.with_tags(repo.scoped(actor, permissions[0]).where(Customer.id.in_(ids)))
    for permission in permissions[1:]:
        statement = statement.where(Customer.id.in_(repo.scoped(actor, permission).with_only_columns(Customer.id)))
    found = {customer.id: customer for customer in await session.scalars(statement)}
    missing = [i for i in ids if i not in found]
    if missing:
        error = NotFound("Customer", ", ".join(map(str, missing)))
        error.extra = {"ids": missing}
        raise error
    erased = [i for i in ids if found[i].erased_at is not None]
    if erased:
        raise Conflict("Erased customers are read-only", code="privacy.erased", ids=erased)
    inactive = [i for i in ids if found[i].status != CustomerStatus.ACTIVE]
    if inactive:
        raise Conflict("Only active customers can be changed", code="customer.not_active", ids=inactive)
    return [found[i] for i in ids]


async def bulk_update(session: AsyncSession, actor: Principal, data: CustomerBulkUpdate) -> list[int]:
    """Apply the same change to every listed customer; an owner change needs customers:transfer, with its scope."""
    changes = data.set
    permissions = ["customers:write"] + (["customers:transfer"] if changes.owner_id is not None else [])
    for permission in permissions:
        actor.require(permission)
    customers = await _all_or_refuse(session, actor, data.ids, permissions)
    if changes.level is not None:
        await ensure_dictionary_values(session, {"level": changes.level})
    owner = await transfer_target(session, actor, changes.owner_id) if changes.owner_id is not None else None
    for customer in customers:
        before = audit_view(customer)
        if changes.level is not None:
            customer.level = changes.level
        if changes.tags_add or changes.tags_remove:
            names = [t.tag for t in customer.tags if t.tag not in changes.tags_remove]
            apply_tags(customer, list(dict.fromkeys(names + changes.tags_add)))
        previous_owner_id = hand_over(customer, owner.id) if owner is not None else customer.owner_id
        await audit.record_change(
            session, actor=actor, entity_type="customer", entity=customer, action="bulk_update", before=before, view=audit_view
        )
        if customer.owner_id != previous_owner_id:
            record_ownership(session, customer, OwnershipAction.TRANSFER, actor, from_user_id=previous_owner_id)
    return [customer.id for customer in customers]
