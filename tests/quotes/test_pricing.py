"""Totals computed on the server in Decimal, rounded half up to the cent per line, checked against hand sums."""

from decimal import Decimal

import pytest

from crm_api.quotes.pricing import LinePrice, price_line
from tests.quotes.factories import API, Desk, make_product

D = Decimal


@pytest.mark.parametrize(
    ("quantity", "unit_price", "discount", "tax_rate", "expected"),
    [
        # 0.05 × 10 % = 0.005 → 0.01 (half up); tax 0.04 × 13 % = 0.0052 → 0.01
        ("1", "0.05", "10", "13", ("0.05", "0.01", "0.01", "0.05")),
        # 0.5 × 0.01 = 0.005 → 0.01; tax 0.0013 → 0.00
        ("0.5", "0.01", "0", "13", ("0.01", "0.00", "0.00", "0.01")),
        # 86.45; discount 12.9675 → 12.97; tax 73.48 × 13 % = 9.5524 → 9.55
        ("7", "12.35", "15", "13", ("86.45", "12.97", "9.55", "83.03")),
        # tax 100.50 × 5 % = 5.025 → 5.03 (half up, where half-even would say 5.02)
        ("1", "100.50", "0", "5", ("100.50", "0.00", "5.03", "105.53")),
    ],
)
def test_a_line_is_rounded_half_up_per_amount(quantity, unit_price, discount, tax_rate, expected):
    priced = price_line(LinePrice(D(quantity), D(unit_price), D(discount), D(tax_rate)))
    assert (priced.subtotal, priced.discount, priced.tax, priced.total) == tuple(D(v) for v in expected)


async def test_the_quote_sums_its_rounded_lines(client, actors):
    desk = await Desk(client, actors).set_up()
    cheap = await make_product(client, desk.admin, "C-5", price="0.05")
    bolts = await make_product(client, desk.admin, "B-1", price="12.35", tax_rate="13.00")
    service = await make_product(client, desk.admin, "S-1", price="100.50", tax_rate="5.00")
    lines = [
        {"product_id": cheap, "quantity": "1", "discount_percent": "10"},
        {"product_id": bolts, "quantity": "7", "discount_percent": "15"},
        {"product_id": service, "quantity": "1"},
        {"product_id": cheap, "quantity": "0.5", "unit_price": "0.01"},
    ]
    created = await client.post(
        API, json={"customer_id": desk.customer_id, "title": "T", "lines": lines}, headers=desk.manager.headers
    )
    assert created.status_code == 201, created.text
    quote = created.json()
    assert [(line["line_no"], line["total"]) for line in quote["lines"]] == [
        (1, "0.05"),
        (2, "83.03"),
        (3, "105.53"),
        (4, "0.01"),
    ]
    assert quote["lines"][1]["unit_price"] == "12.35" and quote["lines"][1]["tax_rate"] == "13.00"
    # 0.05 + 86.45 + 100.50 + 0.01; 0.01 + 12.97; 0.01 + 9.55 + 5.03; 0.05 + 83.03 + 105.53 + 0.01
    assert (quote["subtotal"], quote["discount"], quote["tax"], quote["total"]) == ("187.01", "12.98", "14.59", "188.62")
    assert quote["max_discount"] == "15.00"
