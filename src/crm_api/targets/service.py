"""Sales targets: set, change and remove a month's target of a person or a team, within the caller's scope."""

from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.errors import Conflict, Forbidden, InvalidInput
from crm_api.core.http import check_if_match
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.core.types import to_money
from crm_api.models.target import SalesTarget
from crm_api.targets import policy
from crm_api.targets.policy import TargetHolder
from crm_api.targets.repository import SalesTargetRepository
from crm_api.targets.schemas import SalesTargetCreate, SalesTargetRead, SalesTargetUpdate

ENTITY = "sales_target"


async def list_targets(
    session: AsyncSession,
    actor: Principal,
    params: PageParams,
    *,
    month_from: date | None,
    month_to: date | None,
    user_id: int | None,
    team_id: int | None,
    holder: TargetHolder | None,
) -> Page[SalesTargetRead]:
    repo = SalesTargetRepository(session)
    statement = repo.filtered(
        repo.scoped(actor, policy.READ),
        month_from=month_from,
        month_to=month_to,
        user_id=user_id,
        team_id=team_id,
        holder=holder,
    )
    rows = await repo.page(statement, params, Sort([SalesTarget.month, SalesTarget.id], descending=False))
    return rows.to_page(SalesTargetRead.model_validate)


async def get_target(session: AsyncSession, actor: Principal, target_id: int) -> SalesTarget:
    return await SalesTargetRepository(session).get_scoped_or_404(target_id, actor, policy.READ, "Sales target")


def _outside_scope() -> Forbidden:
    return Forbidden("You may set targets only of your own team and its members", code="sales_target.outside_scope")


async def _duplicate(repo: SalesTargetRepository, data: SalesTargetCreate) -> Conflict | None:
    existing = await repo.existing_id(month=data.month, user_id=data.user_id, team_id=data.team_id)
    if existing is None:
        return None
    return Conflict(
        f"A target for {data.month:%Y-%m} is already set; change it instead", code="sales_target.duplicate", existing_id=existing
    )


async def create_target(session: AsyncSession, actor: Principal, data: SalesTargetCreate) -> SalesTarget:
    repo = SalesTargetRepository(session)
    user_team_id = None
    if data.user_id is not None:
        found, user_team_id = await repo.user_team(data.user_id)
        if not found:
            raise InvalidInput("user_id", f"User {data.user_id} does not exist", code="sales_target.unknown_user")
    elif data.team_id is not None and not await repo.team_exists(data.team_id):
        raise InvalidInput("team_id", f"Team {data.team_id} does not exist", code="sales_target.unknown_team")
    if not policy.may_set(actor, user_team_id=user_team_id, user_id=data.user_id, team_id=data.team_id):
        raise _outside_scope()
    if duplicate := await _duplicate(repo, data):
        raise duplicate
    target = SalesTarget(month=data.month, user_id=data.user_id, team_id=data.team_id, amount=to_money(data.amount))
    try:
        async with session.begin_nested():  # a concurrent create of the same month answers as the check would
            session.add(target)
            await session.flush()
    except IntegrityError:
        if duplicate := await _duplicate(repo, data):
            raise duplicate from None
        raise
    await audit.record_change(session, actor=actor, entity_type=ENTITY, entity=target, action="create", before=None)
    return target


async def _writable(session: AsyncSession, actor: Principal, target_id: int) -> SalesTarget:
    """The target if the caller may change it: 404 outside what they may read, 403 outside what they may set."""
    target = await get_target(session, actor, target_id)
    repo = SalesTargetRepository(session)
    if await repo.get_scoped(target_id, actor, policy.WRITE, for_update=True) is None:
        raise _outside_scope()
    return target


async def update_target(
    session: AsyncSession, actor: Principal, target_id: int, data: SalesTargetUpdate, *, if_match: str | None = None
) -> SalesTarget:
    target = await _writable(session, actor, target_id)
    check_if_match(if_match, target, lambda: SalesTargetRead.model_validate(target))
    before = audit.snapshot(target)
    if data.amount is not None:
        target.amount = to_money(data.amount)
    await audit.record_change(session, actor=actor, entity_type=ENTITY, entity=target, action="update", before=before)
    return target


async def delete_target(session: AsyncSession, actor: Principal, target_id: int, *, if_match: str | None = None) -> None:
    target = await _writable(session, actor, target_id)
    check_if_match(if_match, target)
    await audit.delete_recorded(session, actor=actor, entity_type=ENTITY, entity=target)
