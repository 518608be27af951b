"""The vocabulary of custom fields: the entities that have them and the types a field may be."""

from enum import StrEnum


class CustomFieldEntity(StrEnum):
    CUSTOMER = "customer"
    CONTACT = "contact"
    LEAD = "lead"
    OPPORTUNITY = "opportunity"
    TICKET = "ticket"


class CustomFieldType(StrEnum):
    TEXT = "text"  # up to 1,000 characters
    NUMBER = "number"  # a finite JSON number (an integer stays one)
    DECIMAL = "decimal"  # exact; stored as its decimal string ("1234.50")
    DATE = "date"  # ISO 8601 calendar date, stored as "YYYY-MM-DD"
    BOOLEAN = "boolean"
    CHOICE = "choice"  # one value of the field's dictionary category
    MULTI_CHOICE = "multi_choice"  # a list of distinct values of the field's dictionary category


# Types whose values come from a dictionary category, and types a range filter (`.gte` / `.lte`) applies to.
CHOICE_TYPES = frozenset({CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE})
ORDERED_TYPES = frozenset({CustomFieldType.NUMBER, CustomFieldType.DECIMAL, CustomFieldType.DATE})
