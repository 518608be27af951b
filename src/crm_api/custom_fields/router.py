from typing import Annotated

from fastapi import BackgroundTasks, Depends, Path, Request, status

from crm_api.core.auth import Authenticated, require
from crm_api.core.db import SessionDep, request_database
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.custom_fields import service
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.custom_fields.schemas import KEY_PATTERN, CustomFieldCreate, CustomFieldRead, CustomFieldUpdate, JsonSchema

router = DomainRouter(prefix="/custom-fields", tags=["custom-fields"])

CustomFieldsWrite = Annotated[Principal, Depends(require("custom_fields:write"))]
Entity = Annotated[CustomFieldEntity, Path(description="The kind of record the fields belong to")]
Key = Annotated[str, Path(pattern=KEY_PATTERN, max_length=50, description="The field's key")]


CustomFieldPage = Annotated[PageParams, listing("CustomFieldSort", "key", "sort_order", "created_at", "updated_at")]


@router.get(
    "/{entity}",
    response_model=Page[CustomFieldRead],
    summary="List an entity's custom fields in form order",
)
async def list_custom_fields(
    entity: Entity, _: Authenticated, session: SessionDep, page: CustomFieldPage, include_inactive: bool = False
) -> Page[CustomFieldRead]:
    return await service.list_definitions(session, entity, page, include_inactive=include_inactive)


@router.post(
    "/{entity}",
    response_model=CustomFieldRead,
    status_code=status.HTTP_201_CREATED,
    summary="Define a custom field",
    description="Values records already hold under the key must fit the new field's type (and be distinct when "
    "unique), or the answer is 409 `custom_field.stored_values_conflict`.",
)
@raises(
    "custom_field.duplicate_key",
    "custom_field.duplicate_label",
    "custom_field.stored_values_conflict",
    "custom_field.unknown_category",
)
async def create_custom_field(
    entity: Entity,
    body: CustomFieldCreate,
    principal: CustomFieldsWrite,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> CustomFieldRead:
    definition = await service.create_definition(session, principal, entity, body)
    background.add_task(service.index_field, request_database(request).engine, entity, definition.key)  # after the commit
    return CustomFieldRead.model_validate(definition)


@router.get(
    "/{entity}/schema",
    response_model=JsonSchema,
    summary="The JSON Schema (draft 2020-12) of an entity's custom_fields, to render its form",
    description="Active fields in form order: `title` is the label, choices are `oneOf` of `const` (the stored value) "
    "and `title` (the dictionary label), `required` lists the required keys.",
)
async def get_custom_field_schema(entity: Entity, _: Authenticated, session: SessionDep, request: Request) -> JsonSchema:
    return await service.json_schema(session, entity, schema_id=request.url.path)


@router.patch(
    "/{entity}/{key}",
    response_model=CustomFieldRead,
    summary="Change a custom field's label, order, required or unique",
    description="Key, type and choices' category never change. Turning `unique` on is refused with 409 while "
    "records share a value.",
)
@raises(
    "custom_field.not_found", "custom_field.duplicate_label", "custom_field.not_uniqueable", "custom_field.stored_values_conflict"
)
async def update_custom_field(
    entity: Entity, key: Key, body: CustomFieldUpdate, principal: CustomFieldsWrite, session: SessionDep
) -> CustomFieldRead:
    return CustomFieldRead.model_validate(await service.update_definition(session, principal, entity, key, body))


@router.post(
    "/{entity}/{key}/deactivate",
    response_model=CustomFieldRead,
    summary="Deactivate a custom field: values are kept, but it is no longer required, filtered or written",
)
@raises("custom_field.not_found", "custom_field.stored_values_conflict")
async def deactivate_custom_field(entity: Entity, key: Key, principal: CustomFieldsWrite, session: SessionDep) -> CustomFieldRead:
    return CustomFieldRead.model_validate(await service.set_active(session, principal, entity, key, active=False))


@router.post(
    "/{entity}/{key}/activate",
    response_model=CustomFieldRead,
    summary="Reactivate a custom field",
    description="Refused with 409 while values written meanwhile would break its rules (a repeated unique value).",
)
@raises("custom_field.not_found", "custom_field.stored_values_conflict")
async def activate_custom_field(entity: Entity, key: Key, principal: CustomFieldsWrite, session: SessionDep) -> CustomFieldRead:
    return CustomFieldRead.model_validate(await service.set_active(session, principal, entity, key, active=True))
