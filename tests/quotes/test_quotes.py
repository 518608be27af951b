"""Quotes through HTTP: who may quote, the state machine, approval through the engine, revisions, expiry, PDF."""

import io
from datetime import timedelta

import pypdf
from sqlalchemy import func, select

from crm_api.core.clock import clock
from crm_api.core.tables import OutboxEvent
from tests.factories import assert_problem
from tests.opportunities.factories import opportunity_in
from tests.quotes.factories import API, Desk, make_customer, make_product, supervisor_flow


async def _published(app, event_type):
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(select(func.count()).where(OutboxEvent.event_type == event_type))


async def test_anonymous_401_marketer_403_and_another_managers_quote_404(client, actors):
    desk = await Desk(client, actors).set_up()
    quote = await desk.quote()
    marketer = await actors.make("marketer")
    other = await actors.make("account_manager", team="east")
    assert_problem(await client.get(API), 401)
    assert_problem(await client.get(API, headers=marketer.headers), 403)
    assert_problem(await client.get(f"{API}/{quote['id']}", headers=other.headers), 404, "quote.not_found")
    assert_problem(await client.get(f"{API}/{quote['id']}/pdf", headers=other.headers), 404)
    assert_problem(await desk.act(quote["id"], "submit", other), 404)
    assert (await client.get(API, headers=other.headers)).json()["items"] == []
    # The supervisor sees the team's quotes, but only the owner works on them.
    seen = (await client.get(f"{API}/{quote['id']}", headers=desk.supervisor.headers)).json()
    assert seen["allowed_actions"] == []
    assert_problem(await desk.act(quote["id"], "submit", desk.supervisor), 403, "quote.not_owner")


async def test_who_may_quote_for_what(client, actors):
    desk = await Desk(client, actors).set_up()
    other = await actors.make("account_manager", team="east")
    line = {"product_id": desk.product_id, "quantity": "1"}
    for_customer = {"customer_id": desk.customer_id, "title": "T", "lines": [line]}
    assert_problem(await client.post(API, json=for_customer, headers=other.headers), 404, "customer.not_found")
    opportunity = await opportunity_in(client, "assigned", creator=other, supervisor=desk.supervisor, assignee=desk.manager)
    for_opportunity = {"opportunity_id": opportunity["id"], "title": "T", "lines": [line]}
    assert_problem(await client.post(API, json=for_opportunity, headers=other.headers), 403, "quote.not_assignee")
    created = await client.post(API, json=for_opportunity, headers=desk.manager.headers)
    assert created.status_code == 201, created.text
    assert created.json()["counterparty_name"] == opportunity["customer_name"]
    assert created.json()["number"].startswith("BJ") and created.json()["revision"] == 1
    # Exactly one counterparty; status and owner are not writable; bad lines refused whole.
    both = {**for_customer, "opportunity_id": opportunity["id"]}
    for bad in (both, {**for_customer, "status": "approved"}, {**for_customer, "lines": []}):
        assert_problem(await client.post(API, json=bad, headers=desk.manager.headers), 422)
    inactive = await make_product(client, desk.admin, "OLD", active=False)
    bad_lines = {
        **for_customer,
        "lines": [line, {"product_id": inactive, "quantity": "1"}, {"product_id": 999999, "quantity": "1"}],
    }
    refused = assert_problem(await client.post(API, json=bad_lines, headers=desk.manager.headers), 422, "quote.invalid_lines")
    assert [e["field"] for e in refused["errors"]] == ["lines.1.product_id", "lines.2.product_id"]


async def test_a_small_discount_is_approved_on_submit_and_the_customer_accepts(client, actors, app):
    desk = await Desk(client, actors).set_up()
    quote = await desk.quote(discount="10")
    assert quote["status"] == "draft" and quote["allowed_actions"] == ["edit", "submit"]
    submitted = (await desk.act(quote["id"], "submit")).json()
    assert submitted["status"] == "approved" and submitted["approval"] is None
    assert await _published(app, "quote.approved") == 1
    assert_problem(await desk.act(quote["id"], "accept", answered_by="王经理"), 409, "quote.not_sent")
    assert (await desk.act(quote["id"], "send")).json()["status"] == "sent"
    accepted = (await desk.act(quote["id"], "accept", answered_by="王经理", note="同意")).json()
    assert (accepted["status"], accepted["response_by"], accepted["response_note"]) == ("accepted", "王经理", "同意")
    assert accepted["responded_at"] is not None and accepted["allowed_actions"] == []


async def test_a_large_discount_goes_through_approval(client, actors, app):
    desk = await Desk(client, actors).set_up()
    quote = await desk.quote(discount="10.01")
    assert_problem(await desk.act(quote["id"], "submit"), 409, "approval.no_flow")
    assert (await client.get(f"{API}/{quote['id']}", headers=desk.manager.headers)).json()["status"] == "draft"

    await supervisor_flow(client, desk.admin)
    pending = (await desk.act(quote["id"], "submit")).json()
    assert pending["status"] == "pending_approval"
    assert pending["approval"]["status"] == "pending" and pending["approval"]["current_step_name"] == "销售主管"
    inbox = (await client.get("/api/v1/approvals", params={"pending_for": "me"}, headers=desk.supervisor.headers)).json()
    [request] = inbox["items"]
    assert (request["subject_type"], request["amount"], request["max_discount"]) == ("quote", pending["total"], "10.01")
    assert request["link"] == f"/api/v1/quotes/{quote['id']}"

    rejected = await client.post(
        f"/api/v1/approvals/{request['id']}/reject", json={"comment": "折扣太大"}, headers=desk.supervisor.headers
    )
    assert rejected.status_code == 200, rejected.text
    back = (await client.get(f"{API}/{quote['id']}", headers=desk.manager.headers)).json()
    assert back["status"] == "draft" and back["approval"]["status"] == "rejected"

    again = (await desk.act(quote["id"], "submit")).json()
    decided = await client.post(f"/api/v1/approvals/{again['approval']['id']}/approve", headers=desk.supervisor.headers)
    assert decided.json()["status"] == "approved"
    approved = (await client.get(f"{API}/{quote['id']}", headers=desk.manager.headers)).json()
    assert approved["status"] == "approved" and approved["approval"]["status"] == "approved"
    assert await _published(app, "quote.approved") == 1


async def test_withdrawing_the_request_returns_the_quote_to_draft(client, actors):
    desk = await Desk(client, actors).set_up()
    await supervisor_flow(client, desk.admin)
    quote = await desk.quote(discount="20")
    pending = (await desk.act(quote["id"], "submit")).json()
    withdrawn = await client.post(f"/api/v1/approvals/{pending['approval']['id']}/withdraw", headers=desk.manager.headers)
    assert withdrawn.status_code == 200, withdrawn.text
    assert (await client.get(f"{API}/{quote['id']}", headers=desk.manager.headers)).json()["status"] == "draft"


async def test_drafts_are_edited_and_revising_makes_a_new_version_freezing_the_old(client, actors):
    desk = await Desk(client, actors).set_up()
    quote = await desk.quote()
    url = f"{API}/{quote['id']}"
    lines = [{"product_id": desk.product_id, "quantity": "3", "unit_price": "99.99"}]
    assert_problem(await client.patch(url, json={"lines": lines}, headers={**desk.manager.headers, "If-Match": '"99"'}), 412)
    edited = await client.patch(url, json={"lines": lines, "title": "改"}, headers=desk.manager.headers)
    assert edited.status_code == 200, edited.text
    # 299.97, tax 13 % = 38.9961 → 39.00
    assert (edited.json()["subtotal"], edited.json()["tax"], edited.json()["total"]) == ("299.97", "39.00", "338.97")
    await desk.act(quote["id"], "submit")
    assert_problem(await client.patch(url, json={"title": "x"}, headers=desk.manager.headers), 409, "quote.not_draft")

    revised = await desk.act(quote["id"], "revise")
    assert revised.status_code == 201, revised.text
    new = revised.json()
    assert (new["number"], new["revision"], new["status"], new["previous_id"]) == (quote["number"], 2, "draft", quote["id"])
    assert new["total"] == "338.97" and new["lines"][0]["unit_price"] == "99.99"
    old = (await client.get(url, headers=desk.manager.headers)).json()
    assert old["superseded_by_id"] == new["id"] and old["allowed_actions"] == []
    assert_problem(await desk.act(quote["id"], "send"), 409, "quote.frozen")
    latest = (await client.get(API, params={"latest_only": "true"}, headers=desk.manager.headers)).json()["items"]
    assert [q["id"] for q in latest] == [new["id"]]


async def test_the_daily_job_expires_outstanding_quotes_once(client, actors, frozen_clock):
    desk = await Desk(client, actors).set_up()
    sent = await desk.quote(valid_until="2026-06-20")
    await desk.act(sent["id"], "submit")
    await desk.act(sent["id"], "send")
    approved = await desk.quote(valid_until="2026-06-25")
    await desk.act(approved["id"], "submit")
    draft = await desk.quote(valid_until="2026-06-20")
    jobs = (await client.get("/api/v1/jobs", headers=desk.admin.headers)).json()
    assert {"name": "quote_expiry", "cron": "30 0 * * *"} in [{"name": j["name"], "cron": j["cron"]} for j in jobs]

    clock.advance(timedelta(days=6))  # 2026-06-21 in Shanghai: the sent quote's last day has passed
    desk.admin.headers, desk.manager.headers = actors.headers_for(desk.admin.id), actors.headers_for(desk.manager.id)
    run = await client.post("/api/v1/jobs/quote_expiry/run", headers=desk.admin.headers)
    assert run.json() == {"outcome": "succeeded", "counts": {"quotes_expired": 1}}
    again = await client.post("/api/v1/jobs/quote_expiry/run", headers=desk.admin.headers)
    assert again.json()["counts"] == {"quotes_expired": 0}
    statuses = {q["id"]: q["status"] for q in (await client.get(API, headers=desk.manager.headers)).json()["items"]}
    assert statuses == {sent["id"]: "expired", approved["id"]: "approved", draft["id"]: "draft"}


async def test_the_pdf_prints_chinese_lines_totals_and_validity(client, actors, app):
    desk = await Desk(client, actors).set_up()
    customer = await make_customer(client, desk.manager, name="杭州西湖贸易有限公司")
    quote = await desk.quote(customer_id=customer, discount="5", valid_until="2026-12-31")
    response = await client.get(f"{API}/{quote['id']}/pdf", headers=desk.manager.headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    # 2 × 100.00 = 200.00; discount 10.00; tax 190.00 × 13 % = 24.70; total 214.70
    for expected in (
        app.state.settings.company_name,
        "报价单",
        quote["number"],
        "杭州西湖贸易有限公司",
        "产品 P-100",
        "2026-12-31",
    ):
        assert expected in text, (expected, text)
    for total in ("200.00", "-10.00", "24.70", "214.70"):
        assert total in text, (total, text)


async def test_a_name_outside_the_common_characters_is_printed_too(client, actors):
    # 堃 (U+5803) and 𠀀 (U+20000) are not in GB 2312: the quote is set again in the whole font.
    desk = await Desk(client, actors).set_up()
    customer = await make_customer(client, desk.manager, name="王堃𠀀贸易有限公司")
    quote = await desk.quote(customer_id=customer)
    response = await client.get(f"{API}/{quote['id']}/pdf", headers=desk.manager.headers)
    assert response.status_code == 200
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    assert "王堃" in text, text
