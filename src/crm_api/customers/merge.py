"""Merging a duplicate customer into another: its records move over, its tags join, it is soft-deleted."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.errors import Conflict
from crm_api.core.permissions import Principal
from crm_api.customers.policy import OwnershipAction
from crm_api.customers.repository import CustomerRepository, customer_references
from crm_api.customers.service import audit_view, record_ownership, writable_customer
from crm_api.models.customer import Customer


async def merge_customers(
    session: AsyncSession, actor: Principal, survivor_id: int, loser_id: int
) -> tuple[Customer, dict[str, int]]:
    """Move every record referring to the loser (contacts, interactions, orders and whatever else refers to
    customers.id) to the survivor, set-based; both must be active and writable by the actor."""
    if survivor_id == loser_id:
        raise Conflict("A customer cannot be merged into itself", code="customer.merge_same")
    survivor = await writable_customer(session, actor, survivor_id)
    loser = await writable_customer(session, actor, loser_id)
    survivor_before, loser_before = audit_view(survivor), audit_view(loser)
    repo = CustomerRepository(session)
    moved = {}
    for column in customer_references():
        count = await repo.reassign(column, loser_id=loser.id, survivor_id=survivor.id)
        if count:
            moved[column.table.name] = count
    loser.deleted_at = clock.now()
    await session.flush()
    # The UPDATEs went around the ORM: reload the tags both now have.
    await session.refresh(survivor, ["tags"])
    await session.refresh(loser, ["tags"])
    await audit.record_merge(
        session,
        actor=actor,
        entity_type="customer",
        survivor=survivor,
        loser=loser,
        before=(survivor_before, loser_before),
        view=audit_view,
        moved=moved,
    )
    # Each keeps its own history; the merge is a row of both, naming the owner the loser's records moved from.
    record_ownership(
        session, survivor, OwnershipAction.MERGE, actor, from_user_id=loser.owner_id, reason=f"{loser.code} merged into it"
    )
    record_ownership(
        session, loser, OwnershipAction.MERGE, actor, from_user_id=loser.owner_id, reason=f"Merged into {survivor.code}"
    )
    return survivor, moved
