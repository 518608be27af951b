from typing import Annotated

from pydantic import Field

from crm_api.core.permissions import Scope
from crm_api.core.schemas import InputModel, OutputModel, PatchModel, Text, example


class Grant(InputModel):
    permission: str = Field(max_length=64)
    scope: Scope = Scope.OWN


class GrantRead(OutputModel):
    permission: str
    scope: Scope


class RoleCreate(InputModel):
    model_config = example(
        {
            "code": "regional_auditor",
            "name": "区域审计",
            "description": "只读查看客户与报表",
            "permissions": [{"permission": "customers:read", "scope": "all"}, {"permission": "reports:read", "scope": "all"}],
        }
    )
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{2,49}$")]
    name: Annotated[str, Text(100)]
    description: Annotated[str, Field(max_length=500)] | None = None
    permissions: list[Grant] = Field(default_factory=list)


class RoleUpdate(PatchModel):
    model_config = example({"description": "只读查看客户、订单与报表"})
    not_nullable = frozenset({"name", "permissions"})

    name: Annotated[str, Text(100)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None
    permissions: list[Grant] | None = None


class RoleRead(OutputModel):
    id: int
    code: str
    name: str
    description: str | None
    builtin: bool
    permissions: list[GrantRead]


class PermissionRead(OutputModel):
    permission: str
    description: str
