"""The weekly report: each supervisor gets their team's week just ended, as a notification and an HTML email, with
the numbers the reports give for the same week, once per week."""

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select, update

from crm_api.core.clock import clock
from crm_api.models.identity import User
from crm_api.models.notification import ChannelDelivery
from crm_api.read.weekly_report.service import last_week
from tests.contracts.test_contracts import API as CONTRACTS
from tests.contracts.test_contracts import _contract, _contract_flow
from tests.customers.factories import make_customer, make_interaction
from tests.notifications.receivers import SMTP_PASSWORD, SMTP_USER, smtp_server
from tests.opportunities.factories import opportunity_in
from tests.quotes.factories import Desk
from tests.tickets.factories import assign, feedback, handle, open_ticket

RUN = "/api/v1/jobs/weekly_report/run"
MONDAY_RUN = datetime(2026, 6, 15, 0, 0, tzinfo=UTC)  # Monday 08:00 in Asia/Shanghai
WEEK = (date(2026, 6, 8), date(2026, 6, 14))


def test_the_week_reported_is_monday_to_sunday_before_the_run():
    assert last_week(date(2026, 6, 15)) == WEEK
    assert last_week(date(2026, 6, 21)) == WEEK  # a late run (Sunday) still reports the week before its own
    assert last_week(date(2026, 6, 22)) == (date(2026, 6, 15), date(2026, 6, 21))


def _figure(body: str, label: str) -> str:
    return next(line.split(": ", 1)[1] for line in body.splitlines() if line.startswith(label + ":"))


async def test_each_supervisor_gets_their_teams_week_with_the_reports_numbers(api, people, loopback_app):
    admin = await people.make("admin")
    east_lead = await people.make("sales_supervisor", team="East")
    east = await people.make("account_manager", team="East")
    west_lead = await people.make("sales_supervisor", team="West")
    west = await people.make("account_manager", team="West")
    async with loopback_app.state.db.sessionmaker() as session, session.begin():
        await session.execute(update(User).where(User.id == east_lead.id).values(email="east.lead@example.com"))

    clock.freeze(datetime(2026, 6, 5, 3, 0, tzinfo=UTC))  # the week before: not counted
    for actor in (admin, east_lead, east, west_lead, west):
        actor.headers = people.headers_for(actor.id)
    await make_customer(api, east, name="上周之前的客户")

    clock.freeze(datetime(2026, 6, 10, 3, 0, tzinfo=UTC))  # Wednesday of the week reported
    for actor in (admin, east_lead, east, west_lead, west):
        actor.headers = people.headers_for(actor.id)
    first = await make_customer(api, east, name="东区新客户一")
    await make_customer(api, east, name="东区新客户二")
    await make_interaction(api, east, first["id"], occurred_on="2026-06-10")
    await make_interaction(api, east, first["id"], occurred_on="2026-06-14")
    await make_interaction(api, east, first["id"], occurred_on="2026-06-15")  # the Monday after: not counted
    await opportunity_in(api, "won", creator=east, supervisor=east_lead, assignee=east, customer_name="赢单客户")
    await opportunity_in(api, "lost", creator=east, supervisor=east_lead, assignee=east)
    ticket = await open_ticket(api, east, first["id"])
    assert (await assign(api, east_lead, ticket["id"], east.id)).status_code == 200
    assert (await handle(api, east, ticket["id"])).status_code == 200
    assert (await feedback(api, east, ticket["id"], 5)).status_code == 200
    await make_customer(api, west, name="西区新客户")

    clock.freeze(MONDAY_RUN)
    for actor in (admin, east_lead, east, west_lead, west):
        actor.headers = people.headers_for(actor.id)
    async with smtp_server() as (port, inbox):
        smtp = {"host": "127.0.0.1", "port": port, "security": "none", "username": SMTP_USER, "password": SMTP_PASSWORD}
        assert (
            await api.put("/api/v1/settings/smtp", json=smtp | {"sender": "crm@example.com"}, headers=admin.headers)
        ).status_code == 200
        run = await api.post(RUN, headers=admin.headers)
        assert run.status_code == 200 and run.json()["counts"] == {"sent": 2}
        assert (await api.post(RUN, headers=admin.headers)).json()["counts"] == {"sent": 0}  # once per week
        assert (await api.post("/api/v1/jobs/notification_dispatch/run", headers=admin.headers)).json()["counts"][
            "succeeded"
        ] == 1

    [report] = (await api.get("/api/v1/notifications", headers=east_lead.headers)).json()["items"][:1]
    assert report["type"] == "weekly_report" and report["title"] == "Weekly report 2026-06-08 – 2026-06-14"
    body = report["body"]

    # The same week as the reports and the lists show it to the supervisor.
    performance = await api.get(
        "/api/v1/reports/sales-performance", params={"from": "2026-06-08", "to": "2026-06-14"}, headers=east_lead.headers
    )
    totals = performance.json()["totals"]
    assert _figure(body, "Opportunities assigned") == str(totals["assigned"]) == "2"
    assert _figure(body, "Won (of those assigned)") == str(totals["won"]) == "1"
    assert _figure(body, "Lost (of those assigned)") == str(totals["lost"]) == "1"
    assert _figure(body, "Revenue (shipped and paid orders)") == f"{totals['revenue']} CNY"
    customers = (await api.get("/api/v1/customers", params={"limit": 100}, headers=east_lead.headers)).json()["items"]
    created_in_week = [c for c in customers if "2026-06-08" <= c["created_at"][:10] <= "2026-06-14"]
    assert _figure(body, "New customers") == str(len(created_in_week)) == "3"  # two made, one from the won opportunity
    assert _figure(body, "Interactions") == "2"
    assert _figure(body, "Service tickets closed") == "1"

    west_report = (await api.get("/api/v1/notifications", headers=west_lead.headers)).json()["items"][0]
    assert _figure(west_report["body"], "New customers") == "1" and _figure(west_report["body"], "Interactions") == "0"

    [email] = inbox.messages  # only the East supervisor has an address
    assert email["To"] == "east.lead@example.com" and email["Subject"] == report["title"]
    html = email.get_body(preferencelist=("html",)).get_content()
    assert "<table>" in html and "<th align='left'>New customers</th><td align='right'>3</td>" in html
    jobs = (await api.get("/api/v1/jobs", headers=admin.headers)).json()
    assert {"name": "weekly_report", "cron": "0 8 * * mon"} in jobs


async def _signed_contract(api, desk: Desk, supervisor, *, sign_date: str, amount: str, customer_id: int | None = None) -> dict:
    """An active contract of the desk's manager, signed on `sign_date`, approved by `supervisor`."""
    body = {"customer_id": customer_id or desk.customer_id, "sign_date": sign_date, "amount": amount}
    contract = await _contract(desk, **body)
    submitted = await api.post(f"{CONTRACTS}/{contract['id']}/submit", headers=desk.manager.headers)
    approved = await api.post(f"/api/v1/approvals/{submitted.json()['approval']['id']}/approve", headers=supervisor.headers)
    assert approved.status_code == 200, approved.text
    return contract


async def _received(api, desk: Desk, contract: dict, *amounts: tuple[str, str]) -> None:
    """Receipts (received on, amount) against one installment of the contract covering them all."""
    url = f"{CONTRACTS}/{contract['id']}/installments"
    total = str(sum(Decimal(amount) for _, amount in amounts))
    installment = await api.post(url, json={"due_date": "2026-07-31", "amount": total}, headers=desk.manager.headers)
    for received_on, amount in amounts:
        body = {"amount": amount, "received_on": received_on, "method": "bank_transfer"}
        response = await api.post(f"{url}/{installment.json()['id']}/receipts", json=body, headers=desk.manager.headers)
        assert response.status_code == 201, response.text


async def test_the_teams_week_of_money_is_what_the_contracts_say(api, people, loopback_app):
    clock.freeze(datetime(2026, 6, 10, 3, 0, tzinfo=UTC))
    east, west = await Desk(api, people).set_up(), Desk(api, people)  # west: its own people, set below
    for desk, team in ((east, "East-money"), (west, "West-money")):
        desk.manager = await people.make("account_manager", team=team)
        desk.supervisor = await people.make("sales_supervisor", team=team)
        desk.customer_id = (await make_customer(api, desk.manager, name=f"{team} 客户"))["id"]
    await _contract_flow(api, east.admin)
    async with loopback_app.state.db.sessionmaker() as session, session.begin():
        await session.execute(update(User).where(User.id == east.supervisor.id).values(email="east.money@example.com"))

    first = await _signed_contract(api, east, east.supervisor, sign_date="2026-06-09", amount="50000.00")
    fulfilled = await _signed_contract(api, east, east.supervisor, sign_date="2026-06-14", amount="12345.67")
    assert (await api.post(f"{CONTRACTS}/{fulfilled['id']}/complete", headers=east.manager.headers)).status_code == 200
    before = await _signed_contract(api, east, east.supervisor, sign_date="2026-06-07", amount="8000.00")
    ended = await _signed_contract(api, east, east.supervisor, sign_date="2026-06-12", amount="3000.00")
    await _contract(east, sign_date="2026-06-10", amount="9000.00")  # a draft: not signed
    elsewhere = await _signed_contract(api, west, west.supervisor, sign_date="2026-06-10", amount="7000.00")
    # Collected in the week: 10000.10 + 0.20 + 1000.00 (a contract terminated since still collected it).
    await _received(api, east, first, ("2026-06-08", "10000.10"), ("2026-06-14", "0.20"), ("2026-06-15", "5000.00"))
    await _received(api, east, before, ("2026-06-07", "300.00"))
    await _received(api, east, ended, ("2026-06-13", "1000.00"))
    await _received(api, west, elsewhere, ("2026-06-10", "777.00"))
    terminate = {"reason": "客户业务调整"}
    assert (
        await api.post(f"{CONTRACTS}/{ended['id']}/terminate", json=terminate, headers=east.manager.headers)
    ).status_code == 200

    clock.freeze(MONDAY_RUN)
    east.admin.headers, east.supervisor.headers = people.headers_for(east.admin.id), people.headers_for(east.supervisor.id)
    assert (await api.post(RUN, headers=east.admin.headers)).status_code == 200
    [report] = [
        n
        for n in (await api.get("/api/v1/notifications", headers=east.supervisor.headers)).json()["items"]
        if n["type"] == "weekly_report"
    ]
    body = report["body"]
    assert _figure(body, "Contracts signed") == "2"
    assert _figure(body, "Contracts signed (amount)") == "62345.67 CNY"
    assert _figure(body, "Collected (receipts)") == "11000.30 CNY"

    # The same figures from the contracts as the supervisor reads them.
    listed = (await api.get(CONTRACTS, params={"limit": 100}, headers=east.supervisor.headers)).json()["items"]
    signed = [
        c for c in listed if c["status"] in ("active", "completed") and "2026-06-08" <= (c["sign_date"] or "") <= "2026-06-14"
    ]
    assert (len(signed), str(sum(Decimal(c["amount"]) for c in signed))) == (2, "62345.67")

    async with loopback_app.state.db.sessionmaker() as session:
        html = await session.scalar(select(ChannelDelivery.html).where(ChannelDelivery.recipient == "east.money@example.com"))
    assert "<th align='left'>Contracts signed (amount)</th><td align='right'>62345.67 CNY</td>" in html
    assert "<th align='left'>Collected (receipts)</th><td align='right'>11000.30 CNY</td>" in html
