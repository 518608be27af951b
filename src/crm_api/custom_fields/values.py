"""Reading one custom field value as its type takes it, from JSON or from text (an import cell, a query parameter).

Pure functions, no database: the rules of each type in one place for create, update, import and filters.
"""

import math
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_api.core.schemas import MAX_ID
from crm_api.custom_fields.policy import CustomFieldType

MAX_TEXT = 1_000
MAX_DECIMAL_DIGITS = 28
MAX_CHOICES = 100
# Text a boolean may be written as (an import cell, a query parameter).
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "是"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "否"})
# How a cell or a query parameter lists several choices.
CHOICE_SEPARATORS = (";", "；", ",")


def is_empty(value: Any) -> bool:
    """Nothing given: null, blank text or an empty list clear the field."""
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _number(value: Any) -> int | float:
    number: int | float
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise ValueError("must be a number") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    else:
        raise ValueError("must be a number")
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        if number.is_integer() and abs(number) <= MAX_ID:
            number = int(number)  # 12.0 and 12 are one value, for filters and uniqueness alike
    if isinstance(number, int) and not -MAX_ID - 1 <= number <= MAX_ID:
        raise ValueError("is out of range")
    return number


def _decimal(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('must be a decimal number, as a string such as "1234.50"')
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError('must be a decimal number, as a string such as "1234.50"') from None
    if not number.is_finite() or len(number.as_tuple().digits) > MAX_DECIMAL_DIGITS:
        raise ValueError(f"must be a finite decimal of at most {MAX_DECIMAL_DIGITS} digits")
    # One spelling per value ("12.50" -> "12.5"), so equality filters and uniqueness compare values, not spellings.
    text = format(number.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def _date(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip()[:10] if "T" in value else value.strip()).isoformat()
    except ValueError:
        raise ValueError("must be a date, YYYY-MM-DD") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValueError("must be true or false")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    if len(value) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT} characters")
    return value.strip()


def _choice(value: Any, choices: dict[str, str]) -> str:
    """The dictionary value named by its value or its label (a file written by people may carry 上海 for shanghai)."""
    if not isinstance(value, str) or value.strip() not in choices:
        raise ValueError(f"{value!r} is not one of the active choices")
    return choices[value.strip()]


def _choices(value: Any, choices: dict[str, str]) -> list[str]:
    if isinstance(value, str):
        for separator in CHOICE_SEPARATORS:
            value = value.replace(separator, CHOICE_SEPARATORS[0])
        value = [part for part in value.split(CHOICE_SEPARATORS[0]) if part.strip()]
    if not isinstance(value, list) or len(value) > MAX_CHOICES:
        raise ValueError(f"must be a list of at most {MAX_CHOICES} choices")
    return list(dict.fromkeys(_choice(item, choices) for item in value))


def normalized(field_type: CustomFieldType, value: Any, choices: dict[str, str]) -> Any:
    """The stored form of a non-empty value: numbers as JSON numbers, decimals as strings, dates ISO, choices as
    dictionary values. `choices`: the active items of a choice field's category, value and label -> value.
    ValueError says what is wrong."""
    match field_type:
        case CustomFieldType.TEXT:
            return _text(value)
        case CustomFieldType.NUMBER:
            return _number(value)
        case CustomFieldType.DECIMAL:
            return _decimal(value)
        case CustomFieldType.DATE:
            return _date(value)
        case CustomFieldType.BOOLEAN:
            return _boolean(value)
        case CustomFieldType.CHOICE:
            return _choice(value, choices)
        case CustomFieldType.MULTI_CHOICE:
            return _choices(value, choices)


def to_text(value: Any) -> str | None:
    """A stored value as one cell of an export, which the import reads back."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return CHOICE_SEPARATORS[0].join(str(item) for item in value)
    return str(value)
