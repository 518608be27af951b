"""A quote's arithmetic, in exact decimals rounded half up to the cent per line (schemas.PRICING_RULE)."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from crm_api.core.types import to_money
from crm_api.sales.service import line_amount

HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Priced:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal


@dataclass
class LinePrice:
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal


def price_line(line: LinePrice) -> Priced:
    subtotal = line_amount(line)
    discount = to_money(subtotal * line.discount_percent / HUNDRED)
    tax = to_money((subtotal - discount) * line.tax_rate / HUNDRED)
    return Priced(subtotal=subtotal, discount=discount, tax=tax, total=subtotal - discount + tax)


def price_quote(lines: Iterable[Priced]) -> Priced:
    priced = list(lines)
    return Priced(
        subtotal=sum((p.subtotal for p in priced), ZERO),
        discount=sum((p.discount for p in priced), ZERO),
        tax=sum((p.tax for p in priced), ZERO),
        total=sum((p.total for p in priced), ZERO),
    )
