"""The channels' settings, set by an admin: the SMTP server and the vendors' group robots (secrets write-only), the
SSRF rule on where they point, and the delivery log."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.config import Settings
from crm_api.core.errors import InvalidInput, NotFound
from crm_api.core.pagination import Page, PageParams
from crm_api.core.permissions import Principal
from crm_api.models.notification import NotificationRobot, SmtpSettings
from crm_api.notifications.policy import NotificationChannel, RobotKind
from crm_api.notifications.repository import SMTP_SETTINGS_ID, DeliveryRepository
from crm_api.notifications.schemas import DeliveryRead, RobotRead, RobotWrite, SmtpRead, SmtpWrite
from crm_api.webhooks.policy import DeliveryStatus
from crm_api.webhooks.service import host_refusal


def _ensure_allowed(field: str, host: str | None, settings: Settings) -> None:
    refusal = "no host" if not host else host_refusal(host, settings)
    if refusal is not None:
        raise InvalidInput(field, f"Messages cannot be sent to {host}: {refusal}", code="notification_channel.target_not_allowed")


def _robot_read(kind: RobotKind, robot: NotificationRobot | None) -> RobotRead:
    if robot is None:
        return RobotRead(kind=kind, configured=False, active=False, host=None, has_secret=False, updated_at=None)
    return RobotRead(
        kind=kind,
        configured=True,
        active=robot.active,
        host=httpx.URL(robot.url).host,
        has_secret=robot.secret is not None,
        updated_at=robot.updated_at,
    )


def _robot_summary(robot: NotificationRobot | None) -> audit.Snapshot | None:
    return (
        None
        if robot is None
        else {"host": httpx.URL(robot.url).host, "active": robot.active, "has_secret": robot.secret is not None}
    )


async def list_robots(session: AsyncSession) -> list[RobotRead]:
    robots = await DeliveryRepository(session).robots()
    return [_robot_read(kind, robots.get(kind)) for kind in RobotKind]


async def set_robot(session: AsyncSession, actor: Principal, settings: Settings, kind: RobotKind, data: RobotWrite) -> RobotRead:
    _ensure_allowed("url", data.url.host, settings)
    robot = await session.get(NotificationRobot, kind.value)
    before = _robot_summary(robot)
    if robot is None:
        robot = NotificationRobot(kind=kind.value, secret=None)
        session.add(robot)
    robot.url, robot.active = str(data.url), data.active
    if "secret" in data.model_fields_set:
        robot.secret = data.secret
    await session.flush()
    await audit.record_batch(
        session,
        actor=actor,
        batch_type="notification_robot",
        batch_id=kind.value,
        action="update" if before else "create",
        summary={"before": before, "after": _robot_summary(robot)},
    )
    return _robot_read(kind, robot)


async def remove_robot(session: AsyncSession, actor: Principal, kind: RobotKind) -> None:
    robot = await session.get(NotificationRobot, kind.value)
    if robot is None:
        raise NotFound("Notification channel", kind.value)
    before = _robot_summary(robot)
    await session.delete(robot)
    await audit.record_batch(
        session, actor=actor, batch_type="notification_robot", batch_id=kind.value, action="delete", summary={"before": before}
    )


def _smtp_view(smtp: SmtpSettings) -> audit.Snapshot:
    return {k: v for k, v in audit.snapshot(smtp).items() if k != "password"} | {"has_password": smtp.password is not None}


def _smtp_read(smtp: SmtpSettings) -> SmtpRead:
    return SmtpRead.model_validate(_smtp_view(smtp))


async def get_smtp(session: AsyncSession) -> SmtpRead:
    smtp = await DeliveryRepository(session).smtp()
    if smtp is None:
        raise NotFound("SMTP settings")
    return _smtp_read(smtp)


async def set_smtp(session: AsyncSession, actor: Principal, settings: Settings, data: SmtpWrite) -> SmtpRead:
    _ensure_allowed("host", data.host, settings)
    smtp = await DeliveryRepository(session).smtp()
    before = _smtp_view(smtp) if smtp else None
    if smtp is None:
        smtp = SmtpSettings(id=SMTP_SETTINGS_ID, password=None)
        session.add(smtp)
    for field in ("host", "port", "security", "username", "sender"):
        setattr(smtp, field, getattr(data, field))
    if "password" in data.model_fields_set:
        smtp.password = data.password
    await audit.record_change(
        session,
        actor=actor,
        entity_type="smtp_settings",
        entity=smtp,
        action="update" if before else "create",
        before=before,
        view=_smtp_view,
    )
    return _smtp_read(smtp)


async def list_deliveries(
    session: AsyncSession, params: PageParams, *, status: DeliveryStatus | None, channel: NotificationChannel | None
) -> Page[DeliveryRead]:
    repo = DeliveryRepository(session)
    return (await repo.page(repo.log(status=status, channel=channel), params)).to_page(DeliveryRead.model_validate)
