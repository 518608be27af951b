from typing import Annotated

from pydantic import Field

from crm_api.core.permissions import Scope
from crm_api.core.schemas import InputModel, OutputModel, Text, example

OtpField = Field(
    default=None,
    max_length=32,
    description="With the second factor on: the 6-digit code of the authenticator app, or an unused recovery code",
)


class LoginRequest(InputModel):
    model_config = example({"username": "li.na", "password": "crm-demo-2026"})
    username: Annotated[str, Text(64)]
    password: str = Field(min_length=1, max_length=256)
    otp: str | None = OtpField


class RefreshRequest(InputModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class TokenPair(OutputModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")


class TeamRef(OutputModel):
    id: int
    name: str


class Me(OutputModel):
    id: int
    username: str
    full_name: str
    email: str | None
    team: TeamRef | None
    roles: list[str]
    permissions: dict[str, Scope]
    totp_enabled: bool = Field(description="Whether sign-in asks for the TOTP second factor")


class TotpSetup(OutputModel):
    secret: str = Field(description="Base32 secret, shown this once; not active until enabled with a code")
    provisioning_uri: str = Field(description="otpauth:// URI for a QR code")


SixDigits = Annotated[str, Field(pattern=r"^\d{6}$", description="A current 6-digit code")]


class TotpEnable(InputModel):
    code: SixDigits


class TotpDisable(InputModel):
    password: str = Field(min_length=1, max_length=256)
    code: str = Field(min_length=1, max_length=32, description="A current 6-digit code or an unused recovery code")


class RecoveryCodes(OutputModel):
    recovery_codes: list[str] = Field(description="Single-use codes for when the phone is lost; shown this once")
