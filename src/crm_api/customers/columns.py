"""The columns of a customer file, shared by import and export so an exported file imports again."""

from decimal import Decimal
from typing import Any

from crm_api.core.offline import REQUEST_FIELDS
from crm_api.customers.schemas import CustomerCreate, CustomerRead

# Writable fields, name first: the columns an import understands. Custom fields have a column each, by key or label.
FIELDS = ["name", *(name for name in CustomerCreate.model_fields if name not in {"name", "custom_fields", *REQUEST_FIELDS})]
# A custom field's column, as `column_for` callers name it: the prefix and the field's key.
CUSTOM_FIELD_COLUMN = "custom_fields."
# Exported for the reader, ignored on import (the importer becomes the owner; codes and status are the system's).
SYSTEM_COLUMNS = ("code", "status", "owner_id")
EXPORT_COLUMNS = ["code", *FIELDS, "status", "owner_id"]
# The Chinese column labels of the customer form (SRS 003 figure 10).
CHINESE_LABELS = {
    "客户编号": "code",
    "客户名称": "name",
    "地区": "region",
    "客户等级": "level",
    "行业": "industry",
    "客户满意度": "satisfaction",
    "满意度": "satisfaction",
    "客户信用度": "credit",
    "信用度": "credit",
    "地址": "address",
    "邮政编码": "postal_code",
    "邮编": "postal_code",
    "电话": "phone",
    "传真": "fax",
    "网址": "website",
    "电子邮件": "email",
    "邮箱": "email",
    "营业执照注册号": "business_licence_no",
    "法人": "legal_representative",
    "法人代表": "legal_representative",
    "注册资金": "registered_capital",
    "年营业额": "annual_turnover",
    "开户银行": "bank",
    "银行帐号": "bank_account",
    "银行账号": "bank_account",
    "地税登记号": "local_tax_no",
    "国税登记号": "national_tax_no",
    "标签": "tags",
    "状态": "status",
    "客户经理": "owner_id",
    "外部编号": "external_id",
}
COLUMN_NAMES = {name: name for name in [*FIELDS, *SYSTEM_COLUMNS]} | CHINESE_LABELS
TAG_SEPARATOR = ";"


def column_for(header: Any) -> str | None:
    """The field a header cell names (English field name or Chinese label), None when unknown."""
    text = "" if header is None else str(header).strip()
    return COLUMN_NAMES.get(text) or COLUMN_NAMES.get(text.lower())


def custom_field_header(key: str, label: str) -> str:
    """A custom field's column: its label, or `custom_fields.<key>` where the label names a customer field (地址)."""
    return label if column_for(label) is None else CUSTOM_FIELD_COLUMN + key


def to_cell(customer: CustomerRead, column: str) -> str | int | None:
    value = getattr(customer, column)
    if column == "tags":
        return TAG_SEPARATOR.join(value) or None
    if isinstance(value, Decimal):
        return str(value)
    cell: str | int | None = value  # the other export columns hold text, whole numbers or nothing
    return cell


def from_cell(column: str, value: str) -> Any:
    """A cell's text as the schema takes it."""
    if column == "tags":
        return [tag for tag in value.replace("；", TAG_SEPARATOR).split(TAG_SEPARATOR) if tag.strip()]
    return value
