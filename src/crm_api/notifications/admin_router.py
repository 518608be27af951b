"""The channels' settings and the delivery log: admin routes (settings:write)."""

from typing import Annotated

from fastapi import Depends, Query, status

from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import SessionDep
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.notifications import channels
from crm_api.notifications.policy import NotificationChannel, RobotKind
from crm_api.notifications.schemas import DeliveryRead, RobotRead, RobotWrite, SmtpRead, SmtpWrite
from crm_api.webhooks.policy import DeliveryStatus

router = DomainRouter(tags=["notifications"])

SettingsWrite = Annotated[Principal, Depends(require("settings:write"))]


DeliveryLogPage = Annotated[PageParams, listing("DeliveryLogSort", "status", "attempts", "created_at")]


@router.get(
    "/notification-channels",
    response_model=list[RobotRead],
    summary="The group robots (WeCom, DingTalk, Feishu) notifications may be posted to",
)
async def list_notification_channels(_: SettingsWrite, session: SessionDep) -> list[RobotRead]:
    return await channels.list_robots(session)


@router.put(
    "/notification-channels/{kind}",
    response_model=RobotRead,
    summary="Set a vendor's group robot (its URL and secret are never read back)",
)
@raises("notification_channel.target_not_allowed")
async def set_notification_channel(
    kind: RobotKind, body: RobotWrite, principal: SettingsWrite, session: SessionDep, settings: SettingsDep
) -> RobotRead:
    return await channels.set_robot(session, principal, settings, kind, body)


@router.delete(
    "/notification-channels/{kind}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a vendor's group robot",
)
@raises("notification_channel.not_found")
async def delete_notification_channel(kind: RobotKind, principal: SettingsWrite, session: SessionDep) -> None:
    await channels.remove_robot(session, principal, kind)


@router.get(
    "/settings/smtp",
    response_model=SmtpRead,
    summary="The SMTP server mail goes out through (without its password)",
)
@raises("smtp_settings.not_found")
async def get_smtp_settings(_: SettingsWrite, session: SessionDep) -> SmtpRead:
    return await channels.get_smtp(session)


@router.put(
    "/settings/smtp",
    response_model=SmtpRead,
    summary="Set the SMTP server mail goes out through",
)
@raises("notification_channel.target_not_allowed")
async def set_smtp_settings(body: SmtpWrite, principal: SettingsWrite, session: SessionDep, settings: SettingsDep) -> SmtpRead:
    return await channels.set_smtp(session, principal, settings, body)


@router.get(
    "/notification-deliveries",
    response_model=Page[DeliveryRead],
    summary="The delivery log: each email and robot message, newest first, with its attempts",
)
async def list_notification_deliveries(
    _: SettingsWrite,
    session: SessionDep,
    page: DeliveryLogPage,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    channel: NotificationChannel | None = None,
) -> Page[DeliveryRead]:
    return await channels.list_deliveries(session, page, status=delivery_status, channel=channel)
