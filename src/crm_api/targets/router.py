from typing import Annotated

from fastapi import Depends, Query, status

from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.targets import service
from crm_api.targets.policy import TargetHolder
from crm_api.targets.schemas import Month, SalesTargetCreate, SalesTargetRead, SalesTargetUpdate

router = DomainRouter(prefix="/sales-targets", tags=["sales targets"])

TargetsRead = Annotated[Principal, Depends(require("targets:read"))]
TargetsWrite = Annotated[Principal, Depends(require("targets:write"))]
TargetPage = Annotated[PageParams, listing("SalesTargetSort", "month", "amount", "updated_at")]


@router.get(
    "",
    response_model=Page[SalesTargetRead],
    summary="List the monthly sales targets in the caller's scope, oldest month first",
    description="A supervisor sees their team's and its members' targets, an account manager their own.",
)
async def list_targets(
    principal: TargetsRead,
    session: SessionDep,
    page: TargetPage,
    month_from: Annotated[Month | None, Query(description="first month, YYYY-MM, included")] = None,
    month_to: Annotated[Month | None, Query(description="last month, YYYY-MM, included")] = None,
    user_id: Annotated[Id | None, Query(description="only this person's targets")] = None,
    team_id: Annotated[Id | None, Query(description="only this team's own targets (not its members')")] = None,
    holder: Annotated[TargetHolder | None, Query(description="only people's or only teams' targets")] = None,
) -> Page[SalesTargetRead]:
    return await service.list_targets(
        session, principal, page, month_from=month_from, month_to=month_to, user_id=user_id, team_id=team_id, holder=holder
    )


@router.post(
    "",
    response_model=SalesTargetRead,
    status_code=status.HTTP_201_CREATED,
    summary="Set a month's target of a person or a team",
    description="One target per person and month and per team and month: a second is 409 `sales_target.duplicate` "
    "(its `existing_id` is the one to change). Admins and executives set anyone's, a supervisor their own team's and "
    "its members' (else 403 `sales_target.outside_scope`).",
)
@raises("sales_target.duplicate", "sales_target.outside_scope", "sales_target.unknown_user", "sales_target.unknown_team")
async def create_target(body: SalesTargetCreate, principal: TargetsWrite, session: SessionDep) -> SalesTargetRead:
    return SalesTargetRead.model_validate(await service.create_target(session, principal, body))


@router.get("/{target_id}", response_model=SalesTargetRead, summary="Get a sales target")
@raises("sales_target.not_found")
async def get_target(target_id: Id, principal: TargetsRead, session: SessionDep, etag: ETag) -> SalesTargetRead:
    return etag(SalesTargetRead.model_validate(await service.get_target(session, principal, target_id)))


@router.patch(
    "/{target_id}",
    response_model=SalesTargetRead,
    summary="Change a target's amount",
)
@raises("sales_target.not_found", "sales_target.outside_scope")
async def update_target(
    target_id: Id, body: SalesTargetUpdate, principal: TargetsWrite, session: SessionDep, if_match: IfMatch = None
) -> SalesTargetRead:
    target = await service.update_target(session, principal, target_id, body, if_match=if_match)
    return SalesTargetRead.model_validate(target)


@router.delete(
    "/{target_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a target",
)
@raises("sales_target.not_found", "sales_target.outside_scope")
async def delete_target(target_id: Id, principal: TargetsWrite, session: SessionDep, if_match: IfMatch = None) -> None:
    await service.delete_target(session, principal, target_id, if_match=if_match)
