"""Real servers on loopback that the channels talk to: an SMTP server (aiosmtpd) keeping what it receives, and a
group-robot receiver that checks each vendor's signature as the vendor does."""

import asyncio
import base64
import hashlib
import hmac
import json
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.notifications.streams import served

SMTP_USER, SMTP_PASSWORD = "crm-mailer", "mail-secret"
WECOM_KEY = "wecom-key-123"
DINGTALK_TOKEN, DINGTALK_SECRET = "dingtalk-token", "SECdingtalk-secret"
FEISHU_HOOK, FEISHU_SECRET = "feishu-hook-id", "feishu-secret"


@dataclass
class Inbox:
    """What the SMTP server accepted, parsed; only after a login with the test credentials."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


def _authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, auth_data: Any) -> AuthResult:
    valid = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=valid)


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[int, Inbox]]:
    """An SMTP server on a free loopback port that requires the test login; yields its port and inbox."""
    inbox = Inbox()
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a login without TLS: fine on loopback
            return SMTP(inbox, authenticator=_authenticate, auth_required=True, auth_require_tls=False)

    server = await loop.create_server(protocol, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], inbox
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class RobotCall:
    vendor: str
    body: dict[str, Any]
    signed: bool


@dataclass
class Robots:
    """The three vendors' robot endpoints; `fail_next` answers that many requests with HTTP 500 first."""

    base_url: str = ""
    calls: list[RobotCall] = field(default_factory=list)
    fail_next: int = 0

    def url(self, vendor: str) -> str:
        return {
            "wecom": f"{self.base_url}/cgi-bin/webhook/send?key={WECOM_KEY}",
            "dingtalk": f"{self.base_url}/robot/send?access_token={DINGTALK_TOKEN}",
            "feishu": f"{self.base_url}/open-apis/bot/v2/hook/{FEISHU_HOOK}",
        }[vendor]

    async def _answer(
        self, vendor: str, body: dict[str, Any], signed: bool, ok: dict[str, Any], refused: dict[str, Any]
    ) -> JSONResponse:
        if self.fail_next:
            self.fail_next -= 1
            return JSONResponse({"error": "busy"}, status_code=500)
        self.calls.append(RobotCall(vendor, body, signed))
        return JSONResponse(ok if signed else refused)

    async def wecom(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        signed = request.query_params.get("key") == WECOM_KEY
        return await self._answer(
            "wecom", body, signed, {"errcode": 0, "errmsg": "ok"}, {"errcode": 93000, "errmsg": "invalid webhook url"}
        )

    async def dingtalk(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        timestamp = request.query_params.get("timestamp", "")
        expected = base64.b64encode(
            hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
        ).decode()
        signed = request.query_params.get("access_token") == DINGTALK_TOKEN and request.query_params.get("sign") == expected
        return await self._answer(
            "dingtalk", body, signed, {"errcode": 0, "errmsg": "ok"}, {"errcode": 310000, "errmsg": "sign not match"}
        )

    async def feishu(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        timestamp = str(body.get("timestamp", ""))
        expected = base64.b64encode(hmac.new(f"{timestamp}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
        signed = request.path_params["hook"] == FEISHU_HOOK and body.get("sign") == expected
        return await self._answer(
            "feishu", body, signed, {"code": 0, "msg": "success"}, {"code": 19021, "msg": "sign match fail"}
        )


@asynccontextmanager
async def robot_receiver() -> AsyncIterator[Robots]:
    robots = Robots()
    app = Starlette(
        routes=[
            Route("/cgi-bin/webhook/send", robots.wecom, methods=["POST"]),
            Route("/robot/send", robots.dingtalk, methods=["POST"]),
            Route("/open-apis/bot/v2/hook/{hook}", robots.feishu, methods=["POST"]),
        ]
    )
    async with served(app) as url:  # type: ignore[arg-type]
        robots.base_url = url
        yield robots
