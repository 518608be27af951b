"""Sending one message over a channel: SMTP, and each vendor's group robot with its own payload and signing scheme.

- WeCom (企业微信): the robot's URL carries its `key`; no signature.
- DingTalk (钉钉): `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")) as query
  parameters.
- Feishu (飞书): `timestamp` (s) and `sign` = base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg="")) in the body.
Each answers HTTP 200 with a JSON error code (`errcode`, or `code` for Feishu) of 0 on success.
"""

import base64
import hashlib
import hmac
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx

from crm_api.notifications.policy import RobotKind, SmtpSecurity

ERROR_LENGTH = 500


class SendFailed(Exception):
    """The channel refused or could not take the message; the text is the delivery log's `last_error`."""


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp: int) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def robot_request(kind: RobotKind, url: str, secret: str | None, text: str, *, now: float) -> tuple[str, dict[str, Any]]:
    """The URL to post to and the JSON body, as the vendor expects them."""
    if kind is RobotKind.FEISHU:
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if secret:
            timestamp = int(now)
            body |= {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp)}
        return url, body
    body = {"msgtype": "text", "text": {"content": text}}
    if kind is RobotKind.DINGTALK and secret:
        timestamp_ms = int(now * 1000)
        url = str(httpx.URL(url).copy_merge_params({"timestamp": timestamp_ms, "sign": dingtalk_sign(secret, timestamp_ms)}))
    return url, body


async def post_to_robot(http: httpx.AsyncClient, kind: RobotKind, url: str, secret: str | None, text: str, *, now: float) -> None:
    target, body = robot_request(kind, url, secret, text, now=now)
    try:
        response = await http.post(target, json=body)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]) from exc
    if response.status_code != 200:
        raise SendFailed(f"HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError as exc:
        raise SendFailed("the robot did not answer JSON") from exc
    code = answer.get("code", answer.get("errcode")) if isinstance(answer, dict) else None
    if code != 0:
        message = answer.get("msg", answer.get("errmsg", "")) if isinstance(answer, dict) else ""
        raise SendFailed(f"the robot refused it: {code} {message}"[:ERROR_LENGTH])


def email_message(*, sender: str, to: str, subject: str, body: str, html: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send_email(
    *,
    host: str,
    port: int,
    security: SmtpSecurity,
    username: str | None,
    password: str | None,
    message: EmailMessage,
    timeout_seconds: float,
) -> None:
    try:
        await aiosmtplib.send(
            message,
            hostname=host,
            port=port,
            username=username,
            password=password,
            use_tls=security is SmtpSecurity.TLS,
            start_tls=security is SmtpSecurity.STARTTLS,
            timeout=timeout_seconds,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]) from exc
