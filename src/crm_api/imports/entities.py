"""What each importable entity's file holds and which domain service writes its rows.

A file's columns are the entity's create-body fields, by their English name or their Chinese label; every row is
written through the domain's own service, so its rules, data scopes, audit and events apply as to a create or update
made by hand.
"""

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.errors import InvalidInput
from crm_api.core.permissions import Principal
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.customers import columns as customer_columns
from crm_api.customers import service as customers
from crm_api.customers.schemas import ContactCreate, ContactUpdate, CustomerCreate, CustomerUpdate
from crm_api.imports.policy import ImportEntity
from crm_api.imports.schemas import ContactRow
from crm_api.leads import service as leads
from crm_api.leads.schemas import LeadCreate, LeadUpdate
from crm_api.opportunities import service as opportunities
from crm_api.opportunities.schemas import OpportunityCreate, OpportunityUpdate
from crm_api.sales import ingest as products
from crm_api.sales.schemas import ProductIn

# A row the screen refuses: the field at fault, why, and the record it duplicates.
Refusal = tuple[str, str, BaseModel | None]
EXTERNAL_ID_LABEL = {"外部编号": "external_id", "外部ID": "external_id"}
GENDERS = {"男": "male", "女": "female", "其他": "other"}


def _as_typed(_field: str, text: str) -> Any:
    return text


def _contact_cell(name: str, text: str) -> Any:
    return GENDERS.get(text, text) if name == "gender" else text


def _changes(update: type[BaseModel], row: BaseModel, fields: Collection[str]) -> Any:
    """The update body of the file's columns: a column the file lacks leaves the record's value as it is (a custom
    field's column, `custom_fields.<key>`, sends the row's custom fields)."""
    named = {name.partition(".")[0] for name in fields}
    return update.model_validate(row.model_dump(include=named & set(update.model_fields)))


@dataclass(frozen=True)
class EntityImport:
    entity: ImportEntity
    # The prefix of the file-level error codes (`customer_import.unknown_columns`).
    noun: str
    permission: str
    row: type[BaseModel]
    # Chinese header -> field.
    labels: Mapping[str, str]
    # external_id -> id of the stored records that carry one.
    existing: Callable[[AsyncSession, Collection[str]], Awaitable[dict[str, int]]]
    create: Callable[[AsyncSession, Principal, Any], Awaitable[object]]
    # (session, actor, record id, row, the file's fields)
    update: Callable[[AsyncSession, Principal, int, Any, Collection[str]], Awaitable[object]]
    # The rows of a chunk that create records, in one call that writes all or raises: the fast path.
    create_many: Callable[[AsyncSession, Principal, list[Any]], Awaitable[object]] | None = None
    # Dictionary-coded fields -> their category: a cell may hold the item's label (上海) for its value (shanghai).
    dictionary: Mapping[str, str] = field(default_factory=dict)
    # Columns an export writes for people and an import passes over (codes, statuses, owners are the system's).
    ignored: frozenset[str] = frozenset()
    cell: Callable[[str, str], Any] = _as_typed
    # Whose custom fields the file's other columns may name (by key, label or `custom_fields.<key>`).
    custom_fields: CustomFieldEntity | None = None
    # Rows about to be created, by row number, and what the screen keeps between chunks -> the refused rows' field,
    # reason and the record they duplicate.
    screen: Callable[[AsyncSession, list[tuple[int, Any]], dict[Any, int]], Awaitable[Mapping[int, Refusal]]] | None = None

    def column_for(self, header: str) -> str | None:
        """The field a header names (field name in any case, or Chinese label); None when unknown."""
        names = {name: name for name in self.row.model_fields} | {name: name for name in self.ignored} | dict(self.labels)
        return names.get(header) or names.get(header.lower())

    def required(self) -> list[str]:
        return [name for name, info in self.row.model_fields.items() if info.is_required()]


async def _create_contact(session: AsyncSession, actor: Principal, row: ContactRow) -> object:
    customer_id = await _customer_of(session, row)
    return await customers.add_contact(session, actor, customer_id, ContactCreate.model_validate(_contact_fields(row)))


async def _update_contact(
    session: AsyncSession, actor: Principal, contact_id: int, row: ContactRow, fields: Collection[str]
) -> object:
    customer_id = await _customer_of(session, row)
    return await customers.update_record(
        session, actor, customers.CONTACTS, customer_id, contact_id, _changes(ContactUpdate, row, fields)
    )


def _contact_fields(row: ContactRow) -> dict[str, Any]:
    return row.model_dump(exclude={"customer_code", "customer_external_id"})


async def _customer_of(session: AsyncSession, row: ContactRow) -> int:
    if row.customer_code is not None:
        found = await customers.ids_by_code(session, [row.customer_code])
        reference, name = row.customer_code, "customer_code"
    else:
        reference, name = str(row.customer_external_id), "customer_external_id"
        found = await customers.ids_by_external_id(session, [reference])
    if reference not in found:
        raise InvalidInput(name, f"No customer has {name} {reference!r}", code="contact_import.unknown_customer")
    return found[reference]


async def _upsert_products(session: AsyncSession, actor: Principal, rows: list[ProductIn]) -> object:
    return await products.sync_products(session, actor, rows)


ENTITIES: dict[ImportEntity, EntityImport] = {
    spec.entity: spec
    for spec in (
        EntityImport(
            entity=ImportEntity.CUSTOMERS,
            noun="customer",
            permission="customers:write",
            row=CustomerCreate,
            labels=customer_columns.CHINESE_LABELS,
            existing=customers.ids_by_external_id,
            create=customers.create_customer,
            create_many=partial(customers.create_customers, screened=True),  # `screen` has looked for duplicates
            update=lambda session, actor, record_id, row, fields: customers.update_customer(
                session, actor, record_id, _changes(CustomerUpdate, row, fields)
            ),
            dictionary=customers.DICTIONARY_FIELDS,
            ignored=frozenset(customer_columns.SYSTEM_COLUMNS),
            cell=customer_columns.from_cell,
            custom_fields=CustomFieldEntity.CUSTOMER,
            screen=customers.import_duplicates,
        ),
        EntityImport(
            entity=ImportEntity.CONTACTS,
            noun="contact",
            permission="customers:write",
            row=ContactRow,
            labels={
                "姓名": "name",
                "联系人": "name",
                "性别": "gender",
                "职位": "title",
                "办公电话": "office_phone",
                "手机": "mobile",
                "电子邮件": "email",
                "邮箱": "email",
                "备注": "notes",
                "客户编号": "customer_code",
                "客户外部编号": "customer_external_id",
                **EXTERNAL_ID_LABEL,
            },
            existing=customers.contact_ids_by_external_id,
            create=_create_contact,
            update=_update_contact,
            cell=_contact_cell,
            custom_fields=CustomFieldEntity.CONTACT,
        ),
        EntityImport(
            entity=ImportEntity.LEADS,
            noun="lead",
            permission="leads:write",
            row=LeadCreate,
            labels={
                "来源": "source",
                "线索来源": "source",
                "公司": "company",
                "公司名称": "company",
                "联系人": "contact_name",
                "电话": "phone",
                "联系电话": "phone",
                "电子邮件": "email",
                "邮箱": "email",
                "地区": "region",
                "行业": "industry",
                "备注": "notes",
                **EXTERNAL_ID_LABEL,
            },
            existing=leads.ids_by_external_id,
            create=leads.create,
            update=lambda session, actor, record_id, row, fields: leads.update(
                session, actor, record_id, _changes(LeadUpdate, row, fields)
            ),
            dictionary={"source": "lead_source", "region": "region", "industry": "industry"},
            custom_fields=CustomFieldEntity.LEAD,
        ),
        EntityImport(
            entity=ImportEntity.OPPORTUNITIES,
            noun="opportunity",
            permission="opportunities:create",
            row=OpportunityCreate,
            labels={
                "机会来源": "source",
                "来源": "source",
                "客户名称": "customer_name",
                "成功几率": "success_probability",
                "成功机率": "success_probability",
                "概要": "summary",
                "联系人": "contact_name",
                "联系人电话": "contact_phone",
                "联系电话": "contact_phone",
                "机会描述": "description",
                "描述": "description",
                "预计金额": "expected_amount",
                "预计成交日期": "expected_close_date",
                "阶段": "stage",
                **EXTERNAL_ID_LABEL,
            },
            existing=opportunities.ids_by_external_id,
            create=opportunities.create,
            update=lambda session, actor, record_id, row, fields: opportunities.update(
                session, actor, record_id, _changes(OpportunityUpdate, row, fields)
            ),
            dictionary={"source": "lead_source", "stage": opportunities.STAGE_CATEGORY},
            custom_fields=CustomFieldEntity.OPPORTUNITY,
        ),
        EntityImport(
            entity=ImportEntity.PRODUCTS,
            noun="product",
            permission="integrations:sales",
            row=ProductIn,
            labels={
                "产品名称": "name",
                "名称": "name",
                "型号": "model",
                "批次": "batch",
                "等级/批次": "batch",
                "单位": "unit",
                "单价": "price",
                "价格": "price",
                **EXTERNAL_ID_LABEL,
            },
            existing=products.product_ids_by_external_id,
            # The sales system's upsert: a row of a known external_id updates its product.
            create=lambda session, actor, row: _upsert_products(session, actor, [row]),
            create_many=_upsert_products,
            update=lambda session, actor, _record_id, row, _fields: _upsert_products(session, actor, [row]),
        ),
    )
}
