"""A tiny-scale smoke of the benchmark harness, so it does not rot: PostgreSQL only, a few seconds."""

import argparse
import os
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date

import aiohttp
import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from bench.generate import DataSet, asyncpg_dsn, describe_existing, generate
from bench.load import MemorySampler, drive
from bench.run import (
    REQUEST_TIMEOUT,
    ensure_data_set,
    http_call,
    raw_call,
    remove_written_customers,
    run_sign_in_storm,
    run_timed_import,
    run_timed_jobs,
    run_timed_syncs,
    running_server,
    served_routes,
    sign_in,
    wait_ready,
    warm_cache,
)
from bench.scenarios import (
    ADMIN,
    BENCH_MARK,
    CONTRACT_INSTALLMENTS,
    CUSTOMER_BY_ID,
    CUSTOMERS_BY_CUSTOM_FIELD,
    EXECUTIVE,
    IMPORT_MARK,
    SCENARIOS,
    SignInStorm,
    TimedJob,
    TimedSync,
    load_fixtures,
    timed_import,
)
from crm_api.core.phones import to_e164
from crm_api.main import create_app
from tests.conftest import _postgres_base_url, make_settings

pytestmark = pytest.mark.skipif(_postgres_base_url() is None, reason="the bench harness runs on PostgreSQL only")

TINY = DataSet(customers=300, as_of=date(2026, 11, 23))


@pytest.fixture(scope="module")
async def bench_databases() -> AsyncIterator[tuple[list[str], dict]]:
    """Two throwaway bench databases generated from the same seed, dropped afterwards."""
    base = make_url(_postgres_base_url())
    urls = [base.set(database=f"crm_bench_test_{uuid.uuid4().hex[:10]}").render_as_string(hide_password=False) for _ in range(2)]
    reports = [await generate(url, TINY, quiet=True) for url in urls]
    yield urls, reports[0]
    connection = await asyncpg.connect(asyncpg_dsn(urls[0], "postgres"))
    try:
        for url in urls:
            await connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await connection.close()


async def _rows(url: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await connection.fetch(query)
    finally:
        await connection.close()


async def test_tiny_data_set_is_complete_and_deterministic(bench_databases):
    (first, second), report = bench_databases

    assert report["customers"]["rows"] == 300
    assert report["contacts"]["rows"] == 600
    assert report["users"]["rows"] == 200 and report["teams"]["rows"] == 20
    counts = (
        await _rows(
            first,
            """SELECT (SELECT count(*) FROM customers) AS customers,
        (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM order_lines) AS lines,
        (SELECT last_value FROM code_seq_kh) AS kh,
        (SELECT count(*) FROM orders o WHERE o.total <> (SELECT sum(round(quantity * unit_price, 2))
                                                         FROM order_lines l WHERE l.order_id = o.id)) AS bad_totals""",
        )
    )[0]
    assert counts["customers"] == 300 and counts["kh"] == 300
    assert counts["orders"] > 600 and counts["lines"] > counts["orders"] and counts["bad_totals"] == 0
    statuses = {row["status"]: row["n"] for row in await _rows(first, "SELECT status, count(*) AS n FROM orders GROUP BY 1")}
    assert (statuses.get(5, 0) + statuses.get(6, 0)) / sum(statuses.values()) > 0.8
    dormant = await _rows(
        first,
        """SELECT customer_id FROM orders WHERE status IN (5, 6) GROUP BY customer_id
                                    HAVING max(order_date) < DATE '2026-11-23' - 183""",
    )
    assert len(dormant) > 30  # the churn scan has customers to find

    query = "SELECT name, phone, phone_e164, owner_id FROM customers ORDER BY id LIMIT 20"
    one, two = await _rows(first, query), await _rows(second, query)
    assert [tuple(r) for r in one] == [tuple(r) for r in two]
    for table in (
        "opportunities",
        "service_tickets",
        "ticket_feedbacks",
        "churn_warnings",
        "churn_measures",
        "quote_lines",
        "contracts",
        "contract_receipts",
    ):
        assert report[table]["rows"] > 0
        digest = f"SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) AS rows FROM {table} t"
        assert (await _rows(first, digest)) == (await _rows(second, digest)), table
    assert all(row["name"].endswith("公司") and to_e164(row["phone"]) == row["phone_e164"] for row in one)
    assert TINY.describe() == await describe_existing(first)


async def test_a_smaller_scale_asked_of_a_larger_data_set_is_refused_not_generated_over_it(bench_databases):
    """`make bench` without BENCH_SCALE asks for the small scale: it does not replace a larger data set (a full one
    takes minutes to build)."""
    url = bench_databases[0][0]
    with pytest.raises(SystemExit, match="holds a data set of 300 customers"):
        await ensure_data_set(argparse.Namespace(database_url=url, scale="100", regenerate=False))
    assert TINY.describe() == await describe_existing(url)


async def _violations(url: str, checks: dict[str, str]) -> dict[str, int]:
    """How many rows break each rule (each query counts them)."""
    found = {name: await _rows(url, f"SELECT count(*) AS n FROM ({query}) broken") for name, query in checks.items()}
    return {name: rows[0]["n"] for name, rows in found.items() if rows[0]["n"]}


async def test_tiny_data_set_follows_the_domain_rules(bench_databases):
    url = bench_databases[0][0]
    opportunities = {row["status"] for row in await _rows(url, "SELECT DISTINCT status FROM opportunities")}
    warnings = {row["status"] for row in await _rows(url, "SELECT DISTINCT status FROM churn_warnings")}
    assert opportunities == {"unassigned", "assigned", "won", "lost"} and warnings == {"open", "postponed", "confirmed"}
    tickets = {row["status"] for row in await _rows(url, "SELECT DISTINCT status FROM service_tickets")}
    assert "archived" in tickets and len(tickets) > 1  # a few are still open

    assert (
        await _violations(
            url,
            {
                "won opportunity made its customer": """SELECT 1 FROM opportunities o
            LEFT JOIN customers c ON c.id = o.customer_id WHERE (o.status = 'won') <> (c.id IS NOT NULL)
            OR (o.status = 'won' AND (c.name <> o.customer_name OR c.owner_id <> o.assignee_id
                                      OR c.created_at <> o.closed_at))""",
                "assigned once, closed when final": """SELECT 1 FROM opportunities
            WHERE (status = 'unassigned') <> (assignee_id IS NULL)
            OR (status IN ('won', 'lost')) <> (closed_at IS NOT NULL) OR created_at > assigned_at OR assigned_at > closed_at""",
                "stage history ends at the stage": """SELECT 1 FROM opportunities o WHERE o.stage_since IS DISTINCT FROM
            coalesce((SELECT max(changed_at) FROM opportunity_stage_changes s WHERE s.opportunity_id = o.id),
                     o.assigned_at)
            OR o.stage <> coalesce((SELECT to_stage FROM opportunity_stage_changes s WHERE s.opportunity_id = o.id
                                    ORDER BY changed_at DESC LIMIT 1), o.stage)""",
                "ticket times follow status": """SELECT 1 FROM service_tickets WHERE (status = 'new') <> (assignee_id IS NULL)
            OR (status IN ('handled', 'archived') AND first_handled_at IS NULL)
            OR (status = 'archived') <> (archived_at IS NOT NULL)
            OR assigned_at < created_at OR first_handled_at < assigned_at OR archived_at < first_handled_at
            OR response_due_at <= created_at OR resolve_due_at < response_due_at""",
                "archived on a satisfied feedback": """SELECT 1 FROM service_tickets t WHERE status = 'archived'
            AND NOT EXISTS (SELECT 1 FROM ticket_feedbacks f WHERE f.ticket_id = t.id AND f.satisfaction >= 3
                            AND f.created_at = t.archived_at)""",
                "churned exactly when confirmed": """SELECT 1 FROM customers c
            FULL JOIN (SELECT * FROM churn_warnings WHERE status = 'confirmed') w ON w.customer_id = c.id
            WHERE (c.status = 'churned') <> (w.id IS NOT NULL) OR c.churned_at <> w.confirmed_at""",
                "measures before confirming": """SELECT 1 FROM churn_warnings w WHERE (status = 'open') = EXISTS
            (SELECT 1 FROM churn_measures m WHERE m.warning_id = w.id AND m.created_at > w.opened_at
             AND m.created_at < coalesce(w.confirmed_at, 'infinity'))
            OR (status = 'confirmed') <> (confirm_reason IS NOT NULL)""",
                "opened after six months without an order": """SELECT 1 FROM churn_warnings w
            JOIN customers c ON c.id = w.customer_id WHERE c.created_at > w.opened_at - interval '6 months'
            OR w.last_order_date_at_open IS DISTINCT FROM
               (SELECT max(order_date) FROM orders o WHERE o.customer_id = w.customer_id AND o.status IN (5, 6))
            OR w.last_order_date_at_open > w.opened_at - interval '6 months'""",
                "revenue summed as the order triggers keep it": """SELECT 1 FROM customer_revenue r FULL JOIN
            (SELECT customer_id, 0 AS year, count(*) AS n, sum(round(total * 100)) AS cents FROM orders
              WHERE status IN (5, 6) GROUP BY customer_id
             UNION ALL SELECT customer_id, extract(year FROM order_date), count(*), sum(round(total * 100)) FROM orders
              WHERE status IN (5, 6) GROUP BY 1, 2) o ON o.customer_id = r.customer_id AND o.year = r.year
            WHERE r.order_count IS DISTINCT FROM o.n OR r.revenue_cents IS DISTINCT FROM o.cents""",
            },
        )
        == {}
    )
    [counters] = await _rows(url, "SELECT (SELECT last_value FROM code_seq_jh) AS jh, (SELECT last_value FROM code_seq_fw) AS fw")
    assert counters["jh"] == (await _rows(url, "SELECT max(id) AS n FROM opportunities"))[0]["n"]
    assert counters["fw"] == (await _rows(url, "SELECT max(id) AS n FROM service_tickets"))[0]["n"]


async def test_tiny_data_set_collects_what_is_due_and_never_more(bench_databases):
    (url, _), report = bench_databases
    # 0.2 contracts, 0.6 installments and 0.4 receipts a customer: 200,000, 600,000 and 400,000 at full scale.
    assert [report[table]["rows"] for table in ("contracts", "contract_installments", "contract_receipts")] == [60, 180, 120]
    assert report["quotes"]["rows"] > 0 and report["quote_lines"]["rows"] >= report["quotes"]["rows"]
    statuses = {row["status"]: row["n"] for row in await _rows(url, "SELECT status, count(*) AS n FROM contracts GROUP BY 1")}
    assert statuses["active"] + statuses["completed"] > 0.8 * 60 and statuses.keys() - {"active", "completed"}

    assert (
        await _violations(
            url,
            {
                "collected is the sum of its receipts, never more than due": """SELECT 1 FROM contract_installments i
            LEFT JOIN (SELECT installment_id, sum(amount) AS paid FROM contract_receipts GROUP BY 1) r
                   ON r.installment_id = i.id
            WHERE i.collected <> coalesce(r.paid, 0) OR i.collected > i.amount""",
                "a receipt is of its installment's contract, paid while it was active": """SELECT 1 FROM contract_receipts r
            JOIN contract_installments i ON i.id = r.installment_id JOIN contracts c ON c.id = r.contract_id
            WHERE r.contract_id <> i.contract_id OR r.received_on < c.activated_at::date OR r.received_on >= DATE '2026-11-23'
               OR r.received_on > coalesce(c.closed_at::date, 'infinity') OR r.recorded_by_id <> c.owner_id""",
                "a plan splits the amount of a contract that was approved": """SELECT 1 FROM contracts c
            LEFT JOIN (SELECT contract_id, sum(amount) AS planned, min(due_date) AS first, max(due_date) AS last
                         FROM contract_installments GROUP BY 1) p ON p.contract_id = c.id
            WHERE (c.activated_at IS NOT NULL) <> (p.planned IS NOT NULL) OR p.planned <> c.amount
               OR p.first < c.start_date OR p.last > c.end_date OR c.end_date > DATE '2026-11-23' + 365""",
                "a completed contract was paid in full before it closed": """SELECT 1 FROM contracts c
            JOIN contract_installments i ON i.contract_id = c.id
            WHERE c.status = 'completed' AND (i.collected <> i.amount OR c.end_date > c.closed_at::date)""",
                "times follow the status": """SELECT 1 FROM contracts WHERE (status = 'draft') <> (submitted_at IS NULL)
            OR (status = 'draft') <> (sign_date IS NULL)
            OR (status IN ('active', 'completed', 'terminated')) <> (activated_at IS NOT NULL)
            OR (status IN ('completed', 'terminated')) <> (closed_at IS NOT NULL)
            OR (status = 'terminated') <> (termination_reason IS NOT NULL)
            OR submitted_at < created_at OR activated_at < submitted_at OR closed_at < activated_at
            OR greatest(created_at, updated_at) > TIMESTAMPTZ '2026-11-23 00:00Z'""",
                "signed by the customer's owner, in the house numbering": """SELECT 1 FROM contracts c
            JOIN customers cu ON cu.id = c.customer_id
            WHERE c.owner_id <> cu.owner_id OR c.customer_name <> cu.name OR c.number <> 'HT' || lpad(c.id::text, 8, '0')
               OR cu.deleted_at IS NOT NULL OR cu.status <> 'active' OR c.created_at <= cu.created_at""",
                "quoted by the customer's owner while it was one": """SELECT 1 FROM quotes q
            JOIN customers cu ON cu.id = q.customer_id
            WHERE q.owner_id <> cu.owner_id OR q.counterparty_name <> cu.name OR q.created_at <= cu.created_at
               OR q.updated_at > TIMESTAMPTZ '2026-11-23 00:00Z'""",
                "drawn from an accepted quote of the customer, for its total": """SELECT 1 FROM contracts c
            JOIN quotes q ON q.id = c.quote_id
            WHERE q.status <> 'accepted' OR q.total <> c.amount OR q.customer_id <> c.customer_id
               OR c.created_at < q.responded_at""",
                "quote totals are the sums of their lines": """SELECT 1 FROM quotes q
            JOIN (SELECT quote_id, sum(subtotal) AS subtotal, sum(discount) AS discount, sum(tax) AS tax, sum(total) AS total,
                         max(discount_percent) AS max_discount
                    FROM quote_lines GROUP BY 1) l ON l.quote_id = q.id
            WHERE (q.subtotal, q.discount, q.tax, q.total, q.max_discount)
                  <> (l.subtotal, l.discount, l.tax, l.total, l.max_discount)
               OR q.total <> q.subtotal - q.discount + q.tax""",
                "quote statuses agree with validity and discounts": """SELECT 1 FROM quotes
            WHERE (status IN ('approved', 'sent') AND valid_until < DATE '2026-11-23')
               OR (status = 'expired') <> (expired_at IS NOT NULL) OR expired_at::date <= valid_until
               OR (status = 'pending_approval' AND max_discount <= 10)
               OR (status IN ('accepted', 'rejected')) <> (responded_at IS NOT NULL)
               OR responded_at::date > valid_until OR number <> 'BJ' || lpad(id::text, 8, '0')""",
                "invoices within the amount": """SELECT 1 FROM contracts c
            JOIN (SELECT contract_id, sum(amount) AS invoiced FROM contract_invoices GROUP BY 1) v ON v.contract_id = c.id
            WHERE v.invoiced > c.amount""",
            },
        )
        == {}
    )
    # Receivables age: unpaid installments of active contracts both current and overdue.
    [aging] = await _rows(
        url,
        """SELECT count(*) FILTER (WHERE i.due_date >= DATE '2026-11-23') AS current,
                  count(*) FILTER (WHERE i.due_date < DATE '2026-11-23') AS overdue
           FROM contract_installments i JOIN contracts c ON c.id = i.contract_id
           WHERE c.status = 'active' AND i.collected < i.amount""",
    )
    assert aging["current"] > 0 and aging["overdue"] > 0
    [counters] = await _rows(url, "SELECT (SELECT last_value FROM code_seq_ht) AS ht, (SELECT last_value FROM code_seq_bj) AS bj")
    assert counters["ht"] == 60 and counters["bj"] == report["quotes"]["rows"]


async def test_the_import_scenario_checks_its_counts_and_removes_what_it_imported(bench_databases):
    url = bench_databases[0][1]  # the determinism check above is done with it
    timed = timed_import(customers=40 * 4)
    app = create_app(make_settings(url))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            result = await run_timed_import(client, MemorySampler(os.getpid()), timed, await served_routes(client), url)
    finally:
        await app.state.db.dispose()

    assert (result["name"], result["rows"], result["available"]) == ("import 40 customers from CSV", 40, True)
    assert result["outcome"] == "succeeded: created 35, rejected 5"
    left = await _rows(url, f"SELECT count(*) AS n FROM customers WHERE name LIKE '{IMPORT_MARK}%'")
    assert left[0]["n"] == 0 and (await _rows(url, "SELECT count(*) AS n FROM customers"))[0]["n"] == 300


async def test_the_customers_a_run_creates_one_by_one_are_removed_with_the_imported_ones(bench_databases):
    url = bench_databases[0][1]
    scenario = next(s for s in SCENARIOS if s.name == "create customer (account manager)")
    assert scenario.actor is not None
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        fixtures = await load_fixtures(connection)
    finally:
        await connection.close()
    rng = random.Random(1)
    app = create_app(make_settings(url))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            headers = await sign_in(client, scenario.actor)
            for _ in range(3):
                path, _, body = scenario.request(rng, fixtures)
                response = await client.post(path, json=body, headers=headers)
                assert response.status_code in scenario.expect, response.text
    finally:
        await app.state.db.dispose()

    assert await remove_written_customers(url) == 3
    left = await _rows(url, f"SELECT count(*) AS n FROM customers WHERE name LIKE '{BENCH_MARK}%'")
    assert left[0]["n"] == 0 and (await _rows(url, "SELECT count(*) AS n FROM customers"))[0]["n"] == 300


async def test_the_warm_up_reads_every_table_and_index_of_the_data_set(bench_databases):
    url = bench_databases[0][1]
    relations = await _rows(
        url,
        "SELECT sum(pg_relation_size(oid)) AS bytes FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i', 'm')",
    )
    assert await warm_cache(url) * 8192 == relations[0]["bytes"] > 0


async def test_a_scenario_and_its_raw_ceiling_run_against_the_app(bench_databases):
    url = bench_databases[0][0]
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        fixtures = await load_fixtures(connection)
    finally:
        await connection.close()
    assert fixtures.own_customer_ids and all(len(term) == 4 for term in fixtures.search_terms)

    # The real server, as the bench starts it: the load generator speaks HTTP, not ASGI.
    with running_server(url, workers=1) as (base_url, _):
        # The harness's own timeout: a cold server builds /openapi.json in more than httpx's 5 s on a busy machine.
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT) as client,
            aiohttp.ClientSession(base_url) as load_client,
        ):
            await wait_ready(client)
            headers = await sign_in(client, EXECUTIVE)
            scenario = next(s for s in SCENARIOS if s.name == "users first page")
            measured = await drive(scenario.name, http_call(load_client, scenario, headers, fixtures), concurrency=4, seconds=1)
            by_custom_field = next(s for s in SCENARIOS if s.name == "customers by custom field (executive)")
            filtered = await drive(
                by_custom_field.name, http_call(load_client, by_custom_field, headers, fixtures), concurrency=2, seconds=0.5
            )
            # A PDF is no text: its bytes are read as they are, not counted as an error.
            pdf = next(s for s in SCENARIOS if s.name == "quote pdf (executive)")
            printed = await drive(pdf.name, http_call(load_client, pdf, headers, fixtures), concurrency=1, seconds=0.1)
            jobs = (TimedJob("cleanup", "idempotency", 60.0), TimedJob("missing", "no-such-job", 60.0))
            timed = await run_timed_jobs(client, await sign_in(client, ADMIN), MemorySampler(os.getpid()), jobs)
            syncs = (TimedSync("from scratch", 0, 2.0), TimedSync("after 3 changes", 3, 1.0))
            routes = await served_routes(client)
            synced = await run_timed_syncs(client, MemorySampler(os.getpid()), syncs, routes, fixtures)
    own = len(fixtures.own_customer_ids)
    # Three edits of the account manager's customers, one after another: as many records as customers they reach.
    assert synced[1]["outcome"] == f"{min(3, own)} records in 1 pages"
    assert int(synced[0]["outcome"].split(" records")[0].replace(",", "")) >= own
    assert measured.requests > 0 and measured.errors == 0, measured.first_error
    assert filtered.requests > 0 and filtered.errors == 0, filtered.first_error
    assert printed.requests > 0 and printed.errors == 0, printed.first_error
    assert [(row["name"], row["available"], row.get("outcome")) for row in timed] == [
        ("cleanup", True, "succeeded"),
        ("missing", False, None),
    ]

    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=2, max_size=2)
    try:
        raw = await drive("raw", raw_call(pool, CUSTOMER_BY_ID, fixtures), concurrency=2, seconds=0.3)
        raw_filtered = await drive("raw cf", raw_call(pool, CUSTOMERS_BY_CUSTOM_FIELD, fixtures), concurrency=2, seconds=0.3)
        raw_plan = await drive("raw plan", raw_call(pool, CONTRACT_INSTALLMENTS, fixtures), concurrency=2, seconds=0.3)
    finally:
        await pool.close()
    assert raw_plan.requests > 0 and raw_plan.errors == 0, raw_plan.first_error
    assert raw.requests > 0 and raw.errors == 0, raw.first_error
    assert raw_filtered.requests > 0 and raw_filtered.errors == 0, raw_filtered.first_error


async def test_the_sign_in_storm_reports_its_answers_and_the_reads_slowdown(bench_databases):
    url = bench_databases[0][0]
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        fixtures = await load_fixtures(connection)
    finally:
        await connection.close()
    storm = SignInStorm("storm", sign_ins=4, readers=2, reads="customer by id (executive)")

    with running_server(url, workers=1) as (base_url, pid):
        async with httpx.AsyncClient(base_url=base_url) as client:
            await wait_ready(client)
            result = await run_sign_in_storm(client, base_url, MemorySampler(pid), storm, fixtures, seconds=1)

    assert result["sign_ins"]["requests"] > 0 and result["sign_ins"]["errors"] == 0, result["sign_ins"]["first_error"]
    assert set(result["sign_ins"]["answers"]) <= {"200", "429 auth.busy"}
    assert result["reads_alone"]["requests"] > 0 and result["reads_during"]["errors"] == 0
    assert result["read_p95_slowdown"] > 0
