"""Channels through HTTP: an admin points the service at an SMTP server and the vendors' robots (secrets never read
back); a notification goes out over the channels its user chose, through the dispatcher, with retries and a log."""

from sqlalchemy import update

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.outbox import BACKOFF
from crm_api.models.identity import User
from tests.factories import assert_problem
from tests.notifications.receivers import (
    DINGTALK_SECRET,
    FEISHU_SECRET,
    SMTP_PASSWORD,
    SMTP_USER,
    robot_receiver,
    smtp_server,
)
from tests.opportunities.factories import assign as assign_opportunity
from tests.opportunities.factories import create_opportunity

CHANNELS = "/api/v1/notification-channels"
SMTP = "/api/v1/settings/smtp"
DELIVERIES = "/api/v1/notification-deliveries"
DISPATCH = "/api/v1/jobs/notification_dispatch/run"


async def _with_email(app, actor, email: str) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(update(User).where(User.id == actor.id).values(email=email))


async def _assigned_to(api, people, assignee) -> dict:
    """An opportunity assigned to `assignee`: one assignment notification for them."""
    creator = await people.make("account_manager", team="east")
    supervisor = await people.make("sales_supervisor", team="east")
    opportunity = await create_opportunity(api, creator)
    assert (await assign_opportunity(api, supervisor, opportunity["id"], assignee)).status_code == 200
    return opportunity


async def _dispatch(api, admin) -> dict:
    response = await api.post(DISPATCH, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["counts"]


async def _log(api, admin, **params) -> list[dict]:
    response = await api.get(DELIVERIES, params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_channel_settings_are_for_settings_writers_and_never_show_their_secrets(api, client, people, actors):
    admin = await people.make("admin")
    manager = await people.make("account_manager")
    for method, path in [("GET", CHANNELS), ("PUT", f"{CHANNELS}/dingtalk"), ("GET", SMTP), ("PUT", SMTP), ("GET", DELIVERIES)]:
        assert_problem(await api.request(method, path), 401)
        assert_problem(await api.request(method, path, headers=manager.headers, json={}), 403)
    assert_problem(await api.get(SMTP, headers=admin.headers), 404)

    url = "https://oapi.dingtalk.com/robot/send?access_token=secret-token"
    saved = await api.put(f"{CHANNELS}/dingtalk", json={"url": url, "secret": "SECsigning"}, headers=admin.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json() | {"updated_at": None} == {
        "kind": "dingtalk",
        "configured": True,
        "active": True,
        "host": "oapi.dingtalk.com",
        "has_secret": True,
        "updated_at": None,
    }
    listed = (await api.get(CHANNELS, headers=admin.headers)).json()
    assert [c["kind"] for c in listed] == ["wecom", "dingtalk", "feishu"]
    assert "secret-token" not in str(listed) and "SECsigning" not in str(listed)
    # A PUT without the secret keeps it; null removes it.
    assert (await api.put(f"{CHANNELS}/dingtalk", json={"url": url, "active": False}, headers=admin.headers)).json()["has_secret"]
    cleared = await api.put(f"{CHANNELS}/dingtalk", json={"url": url, "secret": None}, headers=admin.headers)
    assert cleared.json()["has_secret"] is False

    body = {
        "host": "smtp.example.com",
        "port": 465,
        "security": "tls",
        "username": "crm",
        "password": "pw-1",
        "sender": "crm@example.com",
    }
    smtp = await api.put(SMTP, json=body, headers=admin.headers)
    assert smtp.status_code == 200 and smtp.json()["has_password"] is True and "password" not in smtp.json()
    kept = await api.put(SMTP, json={k: v for k, v in body.items() if k != "password"}, headers=admin.headers)
    assert kept.json()["has_password"] is True
    assert "pw-1" not in (await api.get(SMTP, headers=admin.headers)).text
    audit = (await api.get("/api/v1/audit-events", params={"entity_type": "smtp_settings"}, headers=admin.headers)).text
    assert "pw-1" not in audit and "secret-token" not in audit

    # Where private targets are not allowed (the default outside dev), loopback is refused.
    default_admin = await actors.make("admin", username="admin_of_the_default_app")
    refused = await client.put(SMTP, json=body | {"host": "127.0.0.1"}, headers=default_admin.headers)
    assert_problem(refused, 422, "notification_channel.target_not_allowed")
    robot = await client.put(f"{CHANNELS}/wecom", json={"url": "http://127.0.0.1:9/send?key=k"}, headers=default_admin.headers)
    assert_problem(robot, 422, "notification_channel.target_not_allowed")


async def test_a_notification_is_emailed_to_a_user_who_chose_email(loopback_app, api, people):
    admin = await people.make("admin")
    assignee = await people.make("account_manager", team="east")
    await _with_email(loopback_app, assignee, "assignee@example.com")
    assert (
        await api.put("/api/v1/notifications/preferences", json={"channels": ["email"]}, headers=assignee.headers)
    ).status_code == 200
    async with smtp_server() as (port, inbox):
        smtp = {"host": "127.0.0.1", "port": port, "security": "none", "username": SMTP_USER, "password": SMTP_PASSWORD}
        assert (await api.put(SMTP, json=smtp | {"sender": "crm@example.com"}, headers=admin.headers)).status_code == 200
        opportunity = await _assigned_to(api, people, assignee)
        assert await _dispatch(api, admin) == {"sent": 1, "succeeded": 1}
        assert await _dispatch(api, admin) == {"sent": 0, "succeeded": 0}  # sent once

    [message] = inbox.messages
    assert inbox.envelopes == [("crm@example.com", ["assignee@example.com"])]
    assert message["To"] == "assignee@example.com" and message["From"] == "crm@example.com"
    assert message["Subject"] == f"Opportunity {opportunity['code']} assigned to you"
    [delivery] = await _log(api, admin)
    assert delivery["channel"] == "email" and delivery["status"] == "succeeded" and delivery["attempts"] == 1
    assert delivery["recipient"] == "assignee@example.com" and delivery["delivered_at"] is not None


async def test_each_robot_gets_its_vendors_signed_payload(loopback_app, api, people):
    admin = await people.make("admin")
    assignee = await people.make("account_manager", team="east")
    channels = {"channels": ["wecom", "dingtalk", "feishu"]}
    assert (await api.put("/api/v1/notifications/preferences", json=channels, headers=assignee.headers)).status_code == 200
    async with robot_receiver() as robots:
        secrets = {"wecom": None, "dingtalk": DINGTALK_SECRET, "feishu": FEISHU_SECRET}
        for vendor, secret in secrets.items():
            body = {"url": robots.url(vendor)} | ({"secret": secret} if secret else {})
            assert (await api.put(f"{CHANNELS}/{vendor}", json=body, headers=admin.headers)).status_code == 200
        opportunity = await _assigned_to(api, people, assignee)
        assert await _dispatch(api, admin) == {"sent": 3, "succeeded": 3}

    assert sorted(call.vendor for call in robots.calls) == ["dingtalk", "feishu", "wecom"]
    assert all(call.signed for call in robots.calls)
    by_vendor = {call.vendor: call.body for call in robots.calls}
    assert by_vendor["wecom"]["msgtype"] == "text" and opportunity["code"] in by_vendor["wecom"]["text"]["content"]
    assert by_vendor["dingtalk"]["msgtype"] == "text" and f"@{assignee.username}" in by_vendor["dingtalk"]["text"]["content"]
    assert by_vendor["feishu"]["msg_type"] == "text" and opportunity["code"] in by_vendor["feishu"]["content"]["text"]
    assert {d["status"] for d in await _log(api, admin)} == {"succeeded"}


async def test_a_failed_delivery_is_retried_after_the_backoff_and_a_bad_signature_is_logged(
    loopback_app, api, people, frozen_clock
):
    admin = await people.make("admin")
    assignee = await people.make("account_manager", team="east")
    assert (
        await api.put("/api/v1/notifications/preferences", json={"channels": ["dingtalk", "feishu"]}, headers=assignee.headers)
    ).status_code == 200
    async with robot_receiver() as robots:
        signed = {"url": robots.url("dingtalk"), "secret": DINGTALK_SECRET}
        assert (await api.put(f"{CHANNELS}/dingtalk", json=signed, headers=admin.headers)).status_code == 200
        wrong = {"url": robots.url("feishu"), "secret": "not-the-secret"}
        assert (await api.put(f"{CHANNELS}/feishu", json=wrong, headers=admin.headers)).status_code == 200
        await _assigned_to(api, people, assignee)
        robots.fail_next = 1  # the first request (whichever vendor) meets a busy server
        assert (await _dispatch(api, admin))["sent"] == 2
        failed = await _log(api, admin, status="failed")
        assert len(failed) == 2 and all(d["attempts"] == 1 for d in failed)
        assert {d["next_attempt_at"] for d in failed} == {(frozen_clock + BACKOFF[0]).isoformat().replace("+00:00", "Z")}
        errors = sorted(d["last_error"] for d in failed)
        assert errors[0] == "HTTP 500" or "sign match fail" in errors[0]

        assert await _dispatch(api, admin) == {"sent": 0, "succeeded": 0}  # not due yet
        clock.advance(BACKOFF[0])
        admin.headers = people.headers_for(admin.id)
        await _dispatch(api, admin)

    by_channel = {d["channel"]: d for d in await _log(api, admin)}
    assert by_channel["dingtalk"]["status"] == "succeeded"
    assert by_channel["feishu"]["status"] == "failed" and "sign match fail" in by_channel["feishu"]["last_error"]


async def test_email_without_an_smtp_server_waits_in_the_log(loopback_app, api, people):
    admin = await people.make("admin")
    me = await people.make("account_manager", team="east")
    await _with_email(loopback_app, me, "me@example.com")
    await api.put("/api/v1/notifications/preferences", json={"channels": ["email", "wecom"]}, headers=me.headers)
    await _assigned_to(api, people, me)
    assert await _dispatch(api, admin) == {"sent": 2, "succeeded": 0}
    errors = {d["channel"]: d["last_error"] for d in await _log(api, admin, status="failed")}
    assert "no SMTP server" in errors["email"] and "no active wecom robot" in errors["wecom"]


def test_private_targets_are_allowed_in_dev_only_unless_set():
    def allowed(env: str, **overrides: object) -> bool:
        return Settings(_env_file=None, env=env, **overrides).private_targets_allowed  # type: ignore[call-arg, arg-type]

    assert allowed("dev") is True and allowed("test") is False and allowed("prod", secret_key="k" * 40) is False
    assert allowed("test", allow_private_targets=True) is True
    assert allowed("dev", allow_private_targets=False) is False
    assert allowed("test", webhook_allow_private_hosts=True) is True
