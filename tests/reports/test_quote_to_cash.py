"""Quote-to-cash reports (SPEC §3.13): target attainment, receivables aging, contracts vs collected.

One small book of contracts, figures worked out by hand below. The clock stands at 2026-06-15 (business calendar)."""

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import count

import openpyxl
import pypdf
import pytest

from crm_api.models.contract import Contract, Installment, Receipt
from crm_api.models.target import SalesTarget
from tests.factories import Actor, assert_problem
from tests.reports.factories import add_customer

BASE = "/api/v1/reports"
ENDPOINTS = ["target-attainment", "receivables-aging", "contracts-vs-collected"]
_numbers = count(1)


@dataclass
class Book:
    executive: Actor
    supervisor: Actor  # of East: amy's and bob's
    amy: Actor  # East
    bob: Actor  # East
    cai: Actor  # South


async def _contract(session, owner: Actor, customer, amount: str, signed: date, status: str) -> Contract:
    contract = Contract(
        number=f"HT{next(_numbers):06d}",
        customer_id=customer.id,
        customer_name=customer.name,
        owner_id=owner.id,
        title="供货合同",
        amount=Decimal(amount),
        sign_date=signed,
        start_date=signed,
        end_date=date(2027, 6, 30),
        status=status,
    )
    session.add(contract)
    await session.flush()
    return contract


async def _installment(session, contract: Contract, due: date, amount: str, *receipts: tuple[date, str]) -> Installment:
    collected = sum((Decimal(paid) for _, paid in receipts), Decimal("0.00"))
    installment = Installment(contract_id=contract.id, due_date=due, amount=Decimal(amount), collected=collected)
    session.add(installment)
    await session.flush()
    for on, paid in receipts:
        session.add(
            Receipt(
                installment_id=installment.id,
                contract_id=contract.id,
                amount=Decimal(paid),
                received_on=on,
                method="bank_transfer",
                recorded_by_id=contract.owner_id,
            )
        )
    await session.flush()
    return installment


@pytest.fixture
async def book(app, actors, frozen_clock) -> Book:
    book = Book(
        executive=await actors.make("executive", username="eve"),
        supervisor=await actors.make("sales_supervisor", team="East", username="sue"),
        amy=await actors.make("account_manager", team="East", username="amy"),
        bob=await actors.make("account_manager", team="East", username="bob"),
        cai=await actors.make("account_manager", team="South", username="cai"),
    )
    async with app.state.db.sessionmaker() as session, session.begin():
        customers = {
            a.id: await add_customer(session, name=f"{a.username}客户", owner_id=a.id) for a in (book.amy, book.bob, book.cai)
        }

        async def contract(owner, amount, signed, status="active"):
            return await _contract(session, owner, customers[owner.id], amount, signed, status)

        k1 = await contract(book.amy, "100000.00", date(2026, 6, 3))
        # A receipt dated after today: collected in June, but not yet on the 15th.
        await _installment(
            session, k1, date(2026, 6, 15), "40000.00", (date(2026, 6, 10), "10000.00"), (date(2026, 6, 20), "5000.25")
        )
        await _installment(session, k1, date(2026, 5, 16), "1000.00")  # 30 days overdue
        await _installment(session, k1, date(2026, 5, 15), "2000.00")  # 31
        k2 = await contract(book.amy, "50000.50", date(2026, 5, 20), "completed")
        await _installment(session, k2, date(2026, 5, 25), "50000.50", (date(2026, 5, 25), "50000.50"))
        k3 = await contract(book.bob, "30000.00", date(2026, 6, 10))
        await _installment(session, k3, date(2026, 4, 16), "3000.00")  # 60
        await _installment(session, k3, date(2026, 4, 15), "4000.00")  # 61
        await _installment(session, k3, date(2026, 3, 17), "5000.00")  # 90
        await _installment(session, k3, date(2026, 3, 16), "6000.00", (date(2026, 4, 1), "1000.00"))  # 91, partly paid
        k4 = await contract(book.cai, "80000.00", date(2026, 6, 1))
        await _installment(session, k4, date(2026, 7, 1), "60000.00", (date(2026, 6, 2), "20000.00"))
        # Neither a terminated nor a draft contract is signed business, nor owed.
        k5 = await contract(book.amy, "99999.00", date(2026, 6, 5), "terminated")
        await _installment(session, k5, date(2026, 1, 1), "9999.00")
        await contract(book.amy, "12345.00", date(2026, 6, 6), "draft")
        session.add_all(
            [
                SalesTarget(user_id=book.amy.id, month=date(2026, 6, 1), amount=Decimal("200000.00")),
                SalesTarget(user_id=book.amy.id, month=date(2026, 5, 1), amount=Decimal("40000.00")),
                SalesTarget(user_id=book.bob.id, month=date(2026, 6, 1), amount=Decimal("0.00")),
                SalesTarget(team_id=book.amy.team_id, month=date(2026, 6, 1), amount=Decimal("300000.00")),
            ]
        )
    return book


async def _report(client, who: Actor, endpoint: str, **params):
    response = await client.get(f"{BASE}/{endpoint}", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _table(body, *keys):
    return [tuple(row[key] for key in keys) for row in body["rows"]]


ATTAINMENT = ("name", "target", "signed_amount", "collected_amount", "attainment")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_the_reports_need_a_login_and_the_records_permission(client, actors, endpoint):
    assert_problem(await client.get(f"{BASE}/{endpoint}"), 401, "auth.not_authenticated")
    marketer = await actors.make("marketer")
    assert_problem(await client.get(f"{BASE}/{endpoint}", headers=marketer.headers), 403, "auth.missing_permission")
    for role in ("admin", "executive", "sales_supervisor", "account_manager"):
        user = await actors.make(role, team="East")
        assert (await client.get(f"{BASE}/{endpoint}", headers=user.headers)).status_code == 200


async def test_attainment_per_person_for_a_month(client, book):
    body = await _report(client, book.executive, "target-attainment")  # this month by default
    assert body["parameters"] == {"by": "user", "from": "2026-06", "to": "2026-06"}
    # amy: the draft and the terminated contract and May's signing do not count; bob's zero target gives no rate.
    assert _table(body, *ATTAINMENT) == [
        ("Amy", "200000.00", "100000.00", "15000.25", "50.00"),
        ("Bob", "0.00", "30000.00", "0.00", None),
        ("Cai", None, "80000.00", "20000.00", None),
    ]
    assert [row["team_name"] for row in body["rows"]] == ["East", "East", "South"]
    # Over the rows with a target: 130,000.00 ÷ 200,000.00.
    assert body["totals"] == {
        "target": "200000.00",
        "signed_amount": "210000.00",
        "collected_amount": "35000.25",
        "attainment": "65.00",
    }


async def test_attainment_over_months_sums_the_targets(client, book):
    body = await _report(client, book.amy, "target-attainment", **{"from": "2026-05", "to": "2026-06"})
    # 150,000.50 ÷ 240,000.00 = 62.50021 %; collected 10,000.00 + 5,000.25 + 50,000.50.
    assert _table(body, *ATTAINMENT) == [("Amy", "240000.00", "150000.50", "65000.75", "62.50")]


async def test_attainment_per_team_is_its_own_target_against_its_members_business(client, book):
    body = await _report(client, book.executive, "target-attainment", by="team", **{"from": "2026-06"})
    # East: (100,000.00 + 30,000.00) ÷ 300,000.00 = 43.333 %.
    assert _table(body, *ATTAINMENT) == [
        ("East", "300000.00", "130000.00", "15000.25", "43.33"),
        ("South", None, "80000.00", "20000.00", None),
    ]
    supervisor = await _report(client, book.supervisor, "target-attainment", by="team")
    assert _table(supervisor, "name") == [("East",)]
    assert (await _report(client, book.amy, "target-attainment", by="team"))["rows"] == []


async def test_attainment_rows_follow_the_callers_scope(client, book):
    supervisor = await _report(client, book.supervisor, "target-attainment")
    assert _table(supervisor, "name") == [("Amy",), ("Bob",)]
    assert supervisor["totals"]["signed_amount"] == "130000.00"
    manager = await _report(client, book.amy, "target-attainment")
    assert _table(manager, *ATTAINMENT) == [("Amy", "200000.00", "100000.00", "15000.25", "50.00")]


async def test_attainment_reaches_the_calendars_last_month(client, book):
    body = await _report(client, book.executive, "target-attainment", **{"from": "9999-12", "to": "9999-12"})
    assert body["rows"] == [] and body["parameters"]["to"] == "9999-12"


async def test_attainment_refuses_a_bad_period(client, book):
    headers = book.executive.headers
    for params, code in (
        ({"from": "2026-06", "to": "2026-05"}, "report.bad_period"),
        ({"from": "2023-01", "to": "2026-06"}, "report.bad_period"),
    ):
        assert_problem(await client.get(f"{BASE}/target-attainment", params=params, headers=headers), 422, code)
    problem = assert_problem(await client.get(f"{BASE}/target-attainment", params={"from": "2026-6"}, headers=headers), 422)
    assert problem["errors"][0]["field"] == "from"


AGING = ("owner_name", "current", "overdue_1_30", "overdue_31_60", "overdue_61_90", "overdue_over_90", "total")


async def test_aging_buckets_what_active_contracts_owe_by_days_overdue(client, book):
    body = await _report(client, book.executive, "receivables-aging")
    assert body["parameters"] == {"as_of": "2026-06-15"}
    # amy: 40,000.00 due today less the 10,000.00 received by today (not yet overdue), 1,000.00 at 30 days,
    # 2,000.00 at 31; bob: 3,000.00 at 60 days, 4,000.00 at 61 + 5,000.00 at 90, 6,000.00 less 1,000.00 at 91;
    # cai: 60,000.00 less 20,000.00, due next month. The completed and the terminated contract owe nothing here.
    assert _table(body, *AGING) == [
        ("Amy", "30000.00", "1000.00", "2000.00", "0.00", "0.00", "33000.00"),
        ("Bob", "0.00", "0.00", "3000.00", "9000.00", "5000.00", "17000.00"),
        ("Cai", "40000.00", "0.00", "0.00", "0.00", "0.00", "40000.00"),
    ]
    assert body["totals"] == {
        "current": "70000.00",
        "overdue_1_30": "1000.00",
        "overdue_31_60": "5000.00",
        "overdue_61_90": "9000.00",
        "overdue_over_90": "5000.00",
        "total": "90000.00",
    }


async def test_aging_as_of_another_day_counts_the_receipts_received_by_then(client, book):
    later = await _report(client, book.amy, "receivables-aging", as_of="2026-06-25")
    # The 5,000.25 of the 20th is in: 40,000.00 - 15,000.25 at 10 days; the others 40 and 41 days overdue.
    assert _table(later, *AGING) == [("Amy", "0.00", "24999.75", "3000.00", "0.00", "0.00", "27999.75")]
    earlier = await _report(client, book.bob, "receivables-aging", as_of="2026-03-31")
    # Before the 1,000.00 of April 1st: 6,000.00 at 15 days and 5,000.00 at 14; April's 3,000.00 and 4,000.00 not yet due.
    assert _table(earlier, *AGING) == [("Bob", "7000.00", "11000.00", "0.00", "0.00", "0.00", "18000.00")]


async def test_aging_rows_follow_the_callers_scope(client, book):
    assert _table(await _report(client, book.supervisor, "receivables-aging"), "owner_name") == [("Amy",), ("Bob",)]
    manager = await _report(client, book.cai, "receivables-aging")
    assert _table(manager, "owner_name", "total") == [("Cai", "40000.00")]
    assert manager["totals"]["total"] == "40000.00"


FLOWS = ("month", "contracts_signed", "signed_amount", "collected_amount")


async def test_contracts_vs_collected_per_month(client, book):
    body = await _report(client, book.executive, "contracts-vs-collected", **{"from": "2026-04-01", "to": "2026-06-30"})
    assert _table(body, *FLOWS) == [
        ("2026-04", 0, "0.00", "1000.00"),
        ("2026-05", 1, "50000.50", "50000.50"),
        ("2026-06", 3, "210000.00", "35000.25"),
    ]
    assert body["totals"] == {"contracts_signed": 4, "signed_amount": "260000.50", "collected_amount": "86000.75"}


async def test_contracts_vs_collected_per_owner_and_in_scope(client, book):
    period = {"from": "2026-05-01", "to": "2026-06-30", "by_owner": "true"}
    body = await _report(client, book.executive, "contracts-vs-collected", **period)
    assert _table(body, "month", "owner_name", *FLOWS[1:]) == [
        ("2026-05", "Amy", 1, "50000.50", "50000.50"),
        ("2026-06", "Amy", 1, "100000.00", "15000.25"),
        ("2026-06", "Bob", 1, "30000.00", "0.00"),
        ("2026-06", "Cai", 1, "80000.00", "20000.00"),
    ]
    supervisor = await _report(client, book.supervisor, "contracts-vs-collected", **period)
    assert {row["owner_name"] for row in supervisor["rows"]} == {"Amy", "Bob"}
    manager = await _report(client, book.amy, "contracts-vs-collected", **{"from": "2026-05-01", "to": "2026-06-30"})
    assert _table(manager, *FLOWS) == [("2026-05", 1, "50000.50", "50000.50"), ("2026-06", 1, "100000.00", "15000.25")]


async def test_the_reports_export_as_csv_xlsx_and_pdf(client, book):
    headers = book.executive.headers
    csv_response = await client.get(f"{BASE}/receivables-aging", params={"format": "csv"}, headers=headers)
    assert csv_response.headers["content-disposition"] == 'attachment; filename="receivables-aging.csv"'
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Owner", "Not yet due", "1–30 days", "31–60 days", "61–90 days", "> 90 days", "Outstanding"]
    assert rows[-1] == ["Total", "70000.00", "1000.00", "5000.00", "9000.00", "5000.00", "90000.00"]
    xlsx = await client.get(f"{BASE}/target-attainment", params={"format": "xlsx"}, headers=headers)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content))["Report"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[1][:3] == ["Amy", "East", 200000] and values[1][5] == 50
    pdf = await client.get(f"{BASE}/contracts-vs-collected", params={"format": "pdf"}, headers=headers)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    # The default period ends today: the receipt of the 20th is not in June's 30,000.00 yet.
    assert "合同与回款" in text and "210,000.00" in text and "30,000.00" in text and "260,000.50" in text
