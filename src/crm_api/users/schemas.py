from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, field_validator

from crm_api.core.schemas import Id, InputModel, OutputModel, PatchModel, Text, example

Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{3,64}$", description="3-64 letters, digits, _ . -")]
Password = Annotated[str, Field(min_length=8, max_length=256)]


class UserCreate(InputModel):
    model_config = example(
        {
            "username": "zhou.min",
            "full_name": "周敏",
            "password": "Zhou-min-2026!",
            "roles": ["account_manager"],
            "team_id": 1,
            "email": "zhoumin@example.cn",
        }
    )
    username: Username
    full_name: Annotated[str, Text(100)]
    email: EmailStr | None = None
    password: Password
    roles: list[str] = Field(min_length=1, description="Role codes")
    team_id: Id | None = None

    @field_validator("username")
    @classmethod
    def _lowercase(cls, value: str) -> str:
        return value.lower()


class UserUpdate(PatchModel):
    model_config = example({"email": "zhou.min@example.cn"})
    not_nullable = frozenset({"full_name", "password", "roles"})

    full_name: Annotated[str, Text(100)] | None = None
    email: EmailStr | None = None
    password: Password | None = None
    roles: list[str] | None = Field(default=None, min_length=1)
    team_id: Id | None = None
    pool_claim_limit: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="How many active customers this user may own and still claim from the pool; null: CRM_POOL_CLAIM_LIMIT",
    )


class UserRead(OutputModel):
    id: int
    username: str
    full_name: str
    email: str | None
    active: bool
    team_id: int | None
    team_name: str | None
    roles: list[str]
    pool_claim_limit: int | None = Field(description="Own claim limit set by an admin; null: CRM_POOL_CLAIM_LIMIT")
    created_at: datetime
    updated_at: datetime


class TeamCreate(InputModel):
    model_config = example({"name": "华北销售部", "description": "北京、天津、河北"})
    name: Annotated[str, Text(100)]
    description: Annotated[str, Field(max_length=500)] | None = None


class TeamUpdate(PatchModel):
    model_config = example({"description": "北京、天津、河北、山东"})
    not_nullable = frozenset({"name"})

    name: Annotated[str, Text(100)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None


class TeamMember(OutputModel):
    id: int
    username: str
    full_name: str
    roles: list[str]
    active: bool


class TeamRead(OutputModel):
    id: int
    name: str
    description: str | None
    created_at: datetime


class TeamDetail(TeamRead):
    members: list[TeamMember]
