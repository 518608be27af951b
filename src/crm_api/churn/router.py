from typing import Annotated

from fastapi import Depends, Query

from crm_api.churn import jobs, service
from crm_api.churn.policy import ChurnWarningStatus
from crm_api.churn.schemas import ChurnWarningDetail, ChurnWarningRead, ConfirmChurn, MeasureCreate, ScanResult
from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import DatabaseDep, SessionDep
from crm_api.core.http import ETag
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id

ChurnScan = Annotated[Principal, Depends(require("churn:scan"))]

router = DomainRouter(prefix="/churn-warnings", tags=["churn"])

ChurnRead = Annotated[Principal, Depends(require("churn:read"))]
ChurnManage = Annotated[Principal, Depends(require("churn:manage"))]


WarningPage = Annotated[PageParams, listing("WarningSort", "opened_at", "created_at", "updated_at")]


@router.get(
    "",
    response_model=Page[ChurnWarningRead],
    summary="List churn warnings in your data scope, newest first",
)
async def list_warnings(
    principal: ChurnRead,
    session: SessionDep,
    page: WarningPage,
    status: ChurnWarningStatus | None = None,
    customer_name: Annotated[str | None, Query(max_length=200, description="Customer name contains")] = None,
    owner_name: Annotated[str | None, Query(max_length=100, description="Account manager name or username contains")] = None,
) -> Page[ChurnWarningRead]:
    return await service.list_warnings(
        session, principal, page, status=status, customer_name=customer_name, owner_name=owner_name
    )


@router.post(
    "/scan",
    response_model=ScanResult,
    summary="Run the churn scan now (skipped if it is running elsewhere)",
)
async def scan_now(_: ChurnScan, database: DatabaseDep, settings: SettingsDep) -> ScanResult:
    outcome = await jobs.run_scan_now(database, settings)
    return ScanResult(outcome=outcome.outcome, opened=outcome.counts.get("opened", 0))


@router.get(
    "/{warning_id}",
    response_model=ChurnWarningDetail,
    summary="Get a churn warning with its reasons and measures",
)
@raises("churn_warning.not_found")
async def get_warning(
    warning_id: Id, principal: ChurnRead, session: SessionDep, settings: SettingsDep, etag: ETag
) -> ChurnWarningDetail:
    return etag(await service.get_warning(session, principal, settings, warning_id))


@router.post(
    "/{warning_id}/measures",
    response_model=ChurnWarningDetail,
    summary="Add a postpone measure (the customer's account manager); the warning becomes postponed",
)
@raises("churn_warning.confirmed", "churn_warning.not_found", "churn_warning.not_owner")
async def add_measure(
    warning_id: Id, body: MeasureCreate, principal: ChurnManage, session: SessionDep, settings: SettingsDep
) -> ChurnWarningDetail:
    return await service.add_measure(session, principal, settings, warning_id, body)


@router.post(
    "/{warning_id}/confirm",
    response_model=ChurnWarningDetail,
    summary="Confirm the churn: needs a reason and a measure first; the customer becomes churned",
)
@raises("churn_warning.changed", "churn_warning.confirmed", "churn_warning.no_measures", "churn_warning.not_found")
async def confirm(
    warning_id: Id, body: ConfirmChurn, principal: ChurnManage, session: SessionDep, settings: SettingsDep
) -> ChurnWarningDetail:
    return await service.confirm(session, principal, settings, warning_id, body)
