from pydantic import Field

from crm_api.core.permissions import Scope
from crm_api.core.schemas import InputModel, OutputModel, Text


class LoginRequest(InputModel):
    username: Text(64)
    password: str = Field(min_length=1, max_length=256)


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
