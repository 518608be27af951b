"""What the benchmark asks of the service, and the same SQL asked of PostgreSQL directly (the raw ceiling).

Scenarios name their route as the OpenAPI path template; one whose route the running server does not
serve yet is reported "not available" and picked up by itself once its domain lands.
"""

import csv
import io
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from bench import vocabulary as words
from bench.generate import BENCH_PASSWORD, SALES_AREA, SALES_AREAS, sales_area, username
from crm_api.bootstrap import DICTIONARY_SEED
from crm_api.core.pagination import PAGE_FLOOR, PAGE_LIMIT, Sort, first_page_statements
from crm_api.core.phones import complete_e164
from crm_api.custom_fields.repository import FieldValue
from crm_api.customers import policy as customer_policy
from crm_api.customers.repository import SEARCH_WINDOW, CustomerRepository
from crm_api.customers.schemas import CustomerFilters
from crm_api.models import Customer
from crm_api.models.contract import Contract, Installment
from crm_api.sales.repository import OrderRepository
from crm_api.sales.service import ORDER_HISTORY_SORT

ACCOUNT_MANAGER = username("account_manager", 1)
EXECUTIVE = username("executive", 1)
ADMIN = username("admin", 1)
IMPORTER = username("account_manager", 2)  # not ACCOUNT_MANAGER: its customer list is measured
PAGE_SIZE = 20
DEEP_PAGES = 50  # a deep page: the cursor after this many pages of 100


@dataclass
class Fixtures:
    """Real keys and values of the data set, read once before the run."""

    min_customer_id: int
    max_customer_id: int
    own_customer_ids: list[int]  # the account manager's active customers
    search_terms: list[str]  # 4-character name fragments: brand and trade (恒信精密)
    phones: list[str]  # customer phones as people type them (0755-88881234)
    quote_ids: range  # dense, as generated
    contract_ids: range
    deep_cursor: str | None = None
    deep_after_id: int | None = None  # the last customer before the deep page: where the raw query starts

    def any_customer(self, rng: random.Random) -> int:
        return rng.randint(self.min_customer_id, self.max_customer_id)

    def own_customer(self, rng: random.Random) -> int:
        return rng.choice(self.own_customer_ids)

    def any_quote(self, rng: random.Random) -> int:
        return rng.choice(self.quote_ids)

    def any_contract(self, rng: random.Random) -> int:
        return rng.choice(self.contract_ids)


async def load_fixtures(connection: asyncpg.Connection) -> Fixtures:
    bounds = await connection.fetchrow("SELECT min(id) AS low, max(id) AS high FROM customers")
    quotes = await connection.fetchrow("SELECT coalesce(min(id), 0) AS low, coalesce(max(id), -1) AS high FROM quotes")
    contracts = await connection.fetchrow("SELECT coalesce(min(id), 0) AS low, coalesce(max(id), -1) AS high FROM contracts")
    own = await connection.fetch(
        """SELECT c.id FROM customers c JOIN users u ON u.id = c.owner_id
           WHERE u.username = $1 AND c.deleted_at IS NULL AND c.status = 'active' ORDER BY c.id""",
        ACCOUNT_MANAGER,
    )
    # An even sample over the table (ids are dense), so terms and phones are the data set's own.
    sample = await connection.fetch(
        "SELECT name, address, phone FROM customers WHERE id % $1 = 0 LIMIT 500",
        max(bounds["high"] // 500, 1),
    )
    terms = []
    for row in sample:
        city = row["address"].split("市", 1)[0]
        terms.append(row["name"][len(city) : len(city) + 4])
    return Fixtures(
        bounds["low"],
        bounds["high"],
        [row["id"] for row in own],
        terms,
        # Numbers an exchange gives out: a quarter of the generator's random landlines are none (0816-4…), and a
        # search for one, like one for a fragment of a number, reads the phones' trigram indexes instead.
        [row["phone"] for row in sample if row["phone"] and complete_e164(row["phone"]) is not None],
        range(quotes["low"], quotes["high"] + 1),
        range(contracts["low"], contracts["high"] + 1),
    )


# What one request of a scenario sends: path, query parameters, JSON body.
Request = tuple[str, dict[str, Any] | None, dict[str, Any] | None]


@dataclass(frozen=True)
class RawQuery:
    """The SQL the service's repository issues for a scenario, run straight through asyncpg."""

    statement: Select[Any]
    arguments: Callable[[random.Random, Fixtures], dict[str, Any]]  # by bind name
    # Run next with the same arguments when `statement` gives less than a page: a search's older matches (`Window`).
    older: Select[Any] | None = None

    def compiled(self) -> tuple["Compiled", "Compiled | None"]:
        """`statement` and `older` compiled."""
        return _compiled(self.statement), _compiled(self.older) if self.older is not None else None


# A statement's SQL text, and a function giving its positional arguments ($1, $2…) from the arguments of one call.
Compiled = tuple[str, Callable[[dict[str, Any]], list[Any]]]


def _compiled(statement: Select[Any]) -> Compiled:
    compiled = statement.compile(dialect=asyncpg_dialect())
    # An IN list of fixed values (order statuses) becomes a parameter per value, as the service sends it; the
    # other parameters are only placeholders here, filled for each call.
    unset = dict.fromkeys(compiled.positiontup or [])
    expanded = compiled.construct_expanded_state(unset | compiled.params)
    order, fixed = list(expanded.positiontup or []), expanded.parameters  # fixed: LIMIT, statuses…

    def positional(arguments: dict[str, Any]) -> list[Any]:
        values = fixed | arguments
        return [values[name] for name in order]

    return expanded.statement, positional


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    route: str
    actor: str | None  # username signed in as; None: anonymous
    request: Callable[[random.Random, Fixtures], Request]
    expect: tuple[int, ...] = (200,)
    raw: RawQuery | None = None
    # Runs once before the load, e.g. to walk to a deep page.
    prepare: Callable[[httpx.AsyncClient, dict[str, str], Fixtures], Awaitable[None]] | None = None
    p95_limit_ms: float | None = None  # the target its p95 must stay under, where the spec sets one
    clients: int | None = None  # concurrent clients when fewer than the run's: what is done now and then, not by all at once


def _first_page(statement: Select[tuple[Customer]]) -> Select[tuple[Customer]]:
    """The customer list's page query: newest id first, one row more than a page to tell if there is a next."""
    return statement.order_by(Customer.id.desc()).limit(PAGE_SIZE + 1)


_LIVE_CUSTOMERS = select(Customer).where(Customer.deleted_at.is_(None))
CUSTOMER_BY_ID = RawQuery(_LIVE_CUSTOMERS.where(Customer.id == bindparam("id")), lambda rng, fx: {"id": fx.any_customer(rng)})
CUSTOMERS_FIRST_PAGE = RawQuery(_first_page(_LIVE_CUSTOMERS), lambda rng, fx: {})


CUSTOMERS_DEEP_PAGE = RawQuery(
    _first_page(_LIVE_CUSTOMERS.where(Customer.id < bindparam("after"))), lambda rng, fx: {"after": fx.deep_after_id}
)
ORDER_HISTORY = RawQuery(
    OrderRepository.completed_for_customer(bindparam("customer_id"))
    .order_by(*ORDER_HISTORY_SORT.order_by())
    .limit(PAGE_SIZE + 1),
    lambda rng, fx: {"customer_id": fx.any_customer(rng)},
)


# A search: the newest customers down to the window's floor, then the newest matches below it if they were too few.
# The fixture's terms and phones have no letters of two cases, and its phones are whole numbers: one search shape
# serves each kind of term, that of `example`.
def _search(example: str, terms: Callable[[Fixtures], list[str]]) -> RawQuery:
    shape = customer_policy.search(CustomerFilters(q=example)).shape
    statement, older = first_page_statements(
        CustomerRepository.searched(_LIVE_CUSTOMERS, shape), Sort([Customer.id]), SEARCH_WINDOW
    )

    def arguments(rng: random.Random, fx: Fixtures) -> dict[str, Any]:
        search = customer_policy.search(CustomerFilters(q=rng.choice(terms(fx))))
        assert search.shape == shape, f"{search.values} is not searched as {example!r} is"
        return search.values | {PAGE_LIMIT: PAGE_SIZE + 1, PAGE_FLOOR: fx.max_customer_id - SEARCH_WINDOW.rows}

    return RawQuery(statement, arguments, older=older)


CUSTOMERS_BY_NAME = _search("恒信", lambda fx: fx.search_terms)
# `?cf.sales_area=SA123`: `custom_fields ->> 'sales_area' = $1`, answered by the field's index (custom_fields.repository).
CUSTOMERS_BY_CUSTOM_FIELD = RawQuery(
    _first_page(_LIVE_CUSTOMERS.where(FieldValue(Customer.custom_fields, SALES_AREA["key"]) == bindparam("area"))),
    lambda rng, fx: {"area": sales_area(rng.randrange(SALES_AREAS))},
)
CUSTOMERS_BY_PHONE = _search("0755-88881234", lambda fx: fx.phones)

CONTRACT_BY_ID = RawQuery(select(Contract).where(Contract.id == bindparam("id")), lambda rng, fx: {"id": fx.any_contract(rng)})
CONTRACTS_FIRST_PAGE = RawQuery(select(Contract).order_by(Contract.id.desc()).limit(PAGE_SIZE + 1), lambda rng, fx: {})
CONTRACT_INSTALLMENTS = RawQuery(
    select(Installment).where(Installment.contract_id == bindparam("id")).order_by(Installment.due_date, Installment.id),
    lambda rng, fx: {"id": fx.any_contract(rng)},
)


async def _walk_to_deep_page(client: httpx.AsyncClient, headers: dict[str, str], fixtures: Fixtures) -> None:
    cursor = None
    for _ in range(DEEP_PAGES):
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/api/v1/customers", params=params, headers=headers)
        response.raise_for_status()
        page = response.json()
        if page["next_cursor"]:
            cursor, fixtures.deep_after_id = page["next_cursor"], page["items"][-1]["id"]
    fixtures.deep_cursor = cursor


def _customer(rng: random.Random, fx: Fixtures) -> Request:
    body = {
        "name": f"{CREATE_MARK}{rng.randrange(10**12):012d}贸易有限公司",
        "region": "shanghai",
        "level": "major",
        "industry": "retail",
        "address": "上海市浦东新区世纪大道100号",
    }
    return "/api/v1/customers", None, body


def _interaction(rng: random.Random, fx: Fixtures) -> Request:
    body = {
        "occurred_on": "2026-11-20",
        "location": "客户现场",
        "summary": "季度回访",
        "details": f"压测记录 {rng.randint(1, 10**9)}：客户反馈良好。",
    }
    return f"/api/v1/customers/{fx.own_customer(rng)}/interactions", None, body


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("me", "GET", "/api/v1/auth/me", ACCOUNT_MANAGER, lambda rng, fx: ("/api/v1/auth/me", None, None)),
    Scenario(
        "users first page", "GET", "/api/v1/users", EXECUTIVE, lambda rng, fx: ("/api/v1/users", {"limit": PAGE_SIZE}, None)
    ),
    Scenario(
        "dictionary by category",
        "GET",
        "/api/v1/dictionary",
        ACCOUNT_MANAGER,
        lambda rng, fx: ("/api/v1/dictionary", {"category": "region"}, None),
    ),
    Scenario(
        "audit trail first page",
        "GET",
        "/api/v1/audit-events",
        EXECUTIVE,
        lambda rng, fx: ("/api/v1/audit-events", {"limit": PAGE_SIZE}, None),
    ),
    Scenario(
        "customer by id (account manager)",
        "GET",
        "/api/v1/customers/{}",
        ACCOUNT_MANAGER,
        lambda rng, fx: (f"/api/v1/customers/{fx.own_customer(rng)}", None, None),
    ),
    # Ids across the whole table: the few soft-deleted ones rightly answer 404.
    Scenario(
        "customer by id (executive)",
        "GET",
        "/api/v1/customers/{}",
        EXECUTIVE,
        lambda rng, fx: (f"/api/v1/customers/{fx.any_customer(rng)}", None, None),
        expect=(200, 404),
        raw=CUSTOMER_BY_ID,
    ),
    Scenario(
        "customers first page (account manager)",
        "GET",
        "/api/v1/customers",
        ACCOUNT_MANAGER,
        lambda rng, fx: ("/api/v1/customers", {"limit": PAGE_SIZE}, None),
    ),
    Scenario(
        "customers first page (executive)",
        "GET",
        "/api/v1/customers",
        EXECUTIVE,
        lambda rng, fx: ("/api/v1/customers", {"limit": PAGE_SIZE}, None),
        raw=CUSTOMERS_FIRST_PAGE,
    ),
    Scenario(
        "customers deep page (executive)",
        "GET",
        "/api/v1/customers",
        EXECUTIVE,
        lambda rng, fx: ("/api/v1/customers", {"limit": PAGE_SIZE, "cursor": fx.deep_cursor}, None),
        prepare=_walk_to_deep_page,
        raw=CUSTOMERS_DEEP_PAGE,
    ),
    Scenario(
        "search customers by name (executive)",
        "GET",
        "/api/v1/customers",
        EXECUTIVE,
        lambda rng, fx: ("/api/v1/customers", {"q": rng.choice(fx.search_terms), "limit": PAGE_SIZE}, None),
        raw=CUSTOMERS_BY_NAME,
    ),
    Scenario(
        "search customers by phone (executive)",
        "GET",
        "/api/v1/customers",
        EXECUTIVE,
        lambda rng, fx: ("/api/v1/customers", {"q": rng.choice(fx.phones), "limit": PAGE_SIZE}, None),
        raw=CUSTOMERS_BY_PHONE,
    ),
    Scenario(
        "customers by custom field (executive)",
        "GET",
        "/api/v1/customers",
        EXECUTIVE,
        lambda rng, fx: (
            "/api/v1/customers",
            {f"cf.{SALES_AREA['key']}": sales_area(rng.randrange(SALES_AREAS)), "limit": PAGE_SIZE},
            None,
        ),
        raw=CUSTOMERS_BY_CUSTOM_FIELD,
    ),
    Scenario(
        "customer overview (account manager)",
        "GET",
        "/api/v1/customers/{}/overview",
        ACCOUNT_MANAGER,
        lambda rng, fx: (f"/api/v1/customers/{fx.own_customer(rng)}/overview", None, None),
    ),
    Scenario(
        "order history (account manager)",
        "GET",
        "/api/v1/customers/{}/orders",
        ACCOUNT_MANAGER,
        lambda rng, fx: (f"/api/v1/customers/{fx.own_customer(rng)}/orders", {"limit": PAGE_SIZE}, None),
    ),
    Scenario(
        "order history (executive)",
        "GET",
        "/api/v1/customers/{}/orders",
        EXECUTIVE,
        lambda rng, fx: (f"/api/v1/customers/{fx.any_customer(rng)}/orders", {"limit": PAGE_SIZE}, None),
        expect=(200, 404),
        raw=ORDER_HISTORY,
    ),
    Scenario(
        "create interaction (account manager)",
        "POST",
        "/api/v1/customers/{}/interactions",
        ACCOUNT_MANAGER,
        _interaction,
        expect=(201,),
    ),
    # As IMPORTER, whose customers the run removes again (`BENCH_MARK`): the data set stays as generated.
    Scenario("create customer (account manager)", "POST", "/api/v1/customers", IMPORTER, _customer, expect=(201,)),
    # Quote to cash (#16): contracts read as their owners and the executives read them, and a quote printed whole.
    Scenario(
        "contract by id (executive)",
        "GET",
        "/api/v1/contracts/{}",
        EXECUTIVE,
        lambda rng, fx: (f"/api/v1/contracts/{fx.any_contract(rng)}", None, None),
        raw=CONTRACT_BY_ID,
    ),
    Scenario(
        "contracts first page (account manager)",
        "GET",
        "/api/v1/contracts",
        ACCOUNT_MANAGER,
        lambda rng, fx: ("/api/v1/contracts", {"limit": PAGE_SIZE}, None),
    ),
    Scenario(
        "contracts first page (executive)",
        "GET",
        "/api/v1/contracts",
        EXECUTIVE,
        lambda rng, fx: ("/api/v1/contracts", {"limit": PAGE_SIZE}, None),
        raw=CONTRACTS_FIRST_PAGE,
    ),
    Scenario(
        "contract installments (executive)",
        "GET",
        "/api/v1/contracts/{}/installments",
        EXECUTIVE,
        lambda rng, fx: (f"/api/v1/contracts/{fx.any_contract(rng)}/installments", None, None),
        raw=CONTRACT_INSTALLMENTS,
    ),
    # A quote is printed now and then, one at a time per salesperson: two clients, one per worker. Rendering is
    # CPU-bound in the worker, so more at once only queue behind each other (and starve the worker's other requests).
    Scenario(
        "quote pdf (executive)",
        "GET",
        "/api/v1/quotes/{}/pdf",
        EXECUTIVE,
        lambda rng, fx: (f"/api/v1/quotes/{fx.any_quote(rng)}/pdf", None, None),
        p95_limit_ms=300.0,
        clients=2,
    ),
    # Last: argon2 verification is CPU-bound by design, and requests its clients gave up on still drain after it.
    Scenario(
        "login",
        "POST",
        "/api/v1/auth/login",
        None,
        lambda rng, fx: ("/api/v1/auth/login", None, {"username": ACCOUNT_MANAGER, "password": BENCH_PASSWORD}),
    ),
)


@dataclass(frozen=True)
class SignInStorm:
    """Many clients signing in at once, again and again (after the Retry-After of a busy answer, as the contract asks),
    each as one of `sign_ins` users, while customers are read by id:
    every sign-in is answered within `answer_seconds` (a 200, or 429 auth.busy from a full password queue), and the
    reads' p95 stays within `read_slowdown` times their p95 without the storm (#13)."""

    name: str
    sign_ins: int
    readers: int
    reads: str  # the scenario whose requests are the reads
    answer_seconds: float = 5.0
    read_slowdown: float = 2.0

    def usernames(self) -> list[str]:
        # Not ACCOUNT_MANAGER nor IMPORTER, whose sessions the other scenarios hold.
        return [username("account_manager", 3 + n) for n in range(self.sign_ins)]


SIGN_IN_STORM = SignInStorm("sign-in storm", sign_ins=64, readers=8, reads="customer by id (executive)")


@dataclass(frozen=True)
class TimedJob:
    """A scheduled job run once through `POST /api/v1/jobs/{name}/run` and timed (SPEC §5: churn scan < 60 s)."""

    name: str
    job_contains: str  # the job's registered name contains this; the domain that lands chooses the exact name
    limit_seconds: float


# Run after the load scenarios: they change data (warnings, statuses) that a reused data set keeps.
TIMED_JOBS: tuple[TimedJob, ...] = (TimedJob("churn scan", "churn", 60.0),)


@dataclass(frozen=True)
class TimedReport:
    """A report requested once, whole, as the executive, and timed (SPEC §5: the four source reports < 2 s)."""

    name: str
    path: str
    params: dict[str, Any]
    limit_seconds: float = 2.0


CONTRIBUTION = "/api/v1/reports/customer-contribution"
TARGET_ATTAINMENT = "/api/v1/reports/target-attainment"
CONTRACTS_VS_COLLECTED = "/api/v1/reports/contracts-vs-collected"
# The twelve months up to this one: the data set is generated up to the day it is measured.
_MONTHS = date.today().year * 12 + date.today().month - 1
LAST_12_MONTHS = {
    "from": f"{(_MONTHS - 11) // 12}-{(_MONTHS - 11) % 12 + 1:02d}",
    "to": f"{_MONTHS // 12}-{_MONTHS % 12 + 1:02d}",
}
# The same year in days, for a report whose period is a pair of dates.
LAST_12_MONTHS_DAYS = {"from": f"{LAST_12_MONTHS['from']}-01", "to": date.today().isoformat()}
# The four reports of the source requirements, at their defaults: all customers, all years.
TIMED_REPORTS: tuple[TimedReport, ...] = (
    TimedReport("report: customer contribution", CONTRIBUTION, {}),
    TimedReport("report: customer contribution, one year", CONTRIBUTION, {"year": 2025}),
    TimedReport("report: customer composition by level", "/api/v1/reports/customer-composition", {"by": "level"}),
    TimedReport("report: service composition", "/api/v1/reports/service-composition", {}),
    TimedReport("report: churn analysis", "/api/v1/reports/churn", {}),
    # Every contributing customer (804,079 at full scale) streamed into a file; the targets hold at full scale.
    TimedReport("export: customer contribution, CSV", CONTRIBUTION, {"format": "csv"}, limit_seconds=15.0),
    TimedReport("export: customer contribution, XLSX", CONTRIBUTION, {"format": "xlsx"}, limit_seconds=60.0),
    TimedReport("export: churn analysis, CSV", "/api/v1/reports/churn", {"format": "csv"}, limit_seconds=15.0),
    # Quote to cash (#16), over the full data set's 200,000 contracts, 600,000 installments and 400,000 receipts.
    TimedReport("report: target attainment by person, 12 months", TARGET_ATTAINMENT, {"by": "user", **LAST_12_MONTHS}),
    TimedReport("report: target attainment by team, 12 months", TARGET_ATTAINMENT, {"by": "team", **LAST_12_MONTHS}),
    TimedReport("report: receivables aging", "/api/v1/reports/receivables-aging", {}),
    TimedReport(
        "report: contracts vs collected by owner, 12 months", CONTRACTS_VS_COLLECTED, {"by_owner": "true", **LAST_12_MONTHS_DAYS}
    ),
)


# SPEC §5: importing 100,000 customer rows from CSV, validation included, takes less than 60 s.
IMPORT_ROWS, IMPORT_SECONDS = 100_000, 60.0
# The import pipeline: past CRM_IMPORT_INLINE_MAX_ROWS a file is queued (202) and run by the worker that took it.
IMPORT_ROUTE = "/api/v1/imports"
# Starts the name of every customer the bench writes, IMPORTER's all, so what a run left is found again and removed
# (also after a killed run): the imported ones, and those created one by one.
BENCH_MARK = "压测"
IMPORT_MARK = f"{BENCH_MARK}导入"
CREATE_MARK = f"{BENCH_MARK}新建"
# The file's columns, headed as people write them: field -> the Chinese label the import reads.
IMPORT_COLUMNS = {
    "name": "客户名称",
    "region": "地区",
    "level": "客户等级",
    "industry": "行业",
    "satisfaction": "客户满意度",
    "credit": "客户信用度",
    "address": "地址",
    "phone": "电话",
    "email": "电子邮件",
}
# One row per rule the import checks, spread through the file; valid_rows_only must reject exactly these.
INVALID_IMPORT_CELLS = (("phone", "待补充"), ("region", "火星"), ("satisfaction", "9"), ("email", "not-an-email"), ("name", ""))


def _labels(category: str) -> dict[str, str]:
    return {value: label for value, label, _ in DICTIONARY_SEED[category]}


@dataclass(frozen=True)
class TimedImport:
    """A customer file imported once (valid_rows_only) and timed; a smaller data set imports fewer rows against a
    pro rata target. The rows are drawn from a fixed seed; their names carry the run's batch, so they are new."""

    name: str
    rows: int
    limit_seconds: float

    def csv(self, batch: str) -> bytes:
        rng = random.Random(f"import:{self.rows}")
        regions, levels, industries = _labels("region"), _labels("customer_level"), _labels("industry")
        region_values = [value for value in regions if value in words.REGION_CITIES]
        industry_values = [value for value in industries if value in words.INDUSTRY_WORDS]
        level_values = list(levels)
        invalid_at = {self.rows * (n + 1) // (len(INVALID_IMPORT_CELLS) + 1): cell for n, cell in enumerate(INVALID_IMPORT_CELLS)}
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(IMPORT_COLUMNS.values())
        for n in range(1, self.rows + 1):
            region, industry = rng.choice(region_values), rng.choice(industry_values)
            city, area = rng.choice(words.REGION_CITIES[region])
            trade = rng.choice(words.INDUSTRY_WORDS[industry])
            row = {
                "name": f"{IMPORT_MARK}{batch}-{n:06d}{city}{trade}有限公司",
                "region": regions[region],
                "level": levels[rng.choice(level_values)],
                "industry": industries[industry],
                "satisfaction": rng.randint(1, 5),
                "credit": rng.randint(1, 5),
                "address": f"{city}市{rng.choice(words.ROADS)}{rng.randint(1, 999)}号",
                # Local numbers from 9000 0000 up: the generated customers' end below 9000 0000.
                "phone": f"0{area}-9{n:07d}",
                "email": f"import{n}@{batch}.example.cn",
            }
            if n in invalid_at:
                field, value = invalid_at[n]
                row[field] = value
            writer.writerow(row.values())
        return out.getvalue().encode("utf-8")

    def outcome(self, finished: dict[str, Any]) -> str:
        """What the finished import (`GET /api/v1/imports/{id}`) says, against what this file must give."""
        invalid = len(INVALID_IMPORT_CELLS)
        said = f"{finished['status']}: created {finished['created']:,}, rejected {finished['failed']:,}"
        expected = (finished["status"], finished["rows_done"], finished["created"], finished["failed"])
        if expected != ("succeeded", self.rows, self.rows - invalid, invalid):
            return f"unexpected: {said} of {finished['rows_done']:,} rows (expected {self.rows - invalid:,} and {invalid})"
        return said


def timed_import(customers: int, rows: int | None = None) -> TimedImport:
    """The import for a data set: 100,000 rows at full scale, a quarter of the customers below it, or `rows`."""
    rows = rows or min(IMPORT_ROWS, max(customers // 4, 2 * len(INVALID_IMPORT_CELLS)))
    return TimedImport(f"import {rows:,} customers from CSV", rows, IMPORT_SECONDS * rows / IMPORT_ROWS)


# SPEC §3.16 at scale: an account manager's phone syncs its records from scratch, then after some changes.
SYNC_ROUTE = "/api/v1/sync"
SYNC_PAGE = 1000  # the largest page the API gives


@dataclass(frozen=True)
class TimedSync:
    """A sync run once as the account manager, every page, and timed: from scratch, or after `changes` edits of
    its own customers (made first, untimed) from the token the previous sync left."""

    name: str
    changes: int
    limit_seconds: float


TIMED_SYNCS: tuple[TimedSync, ...] = (
    TimedSync("sync from scratch (account manager)", 0, 2.0),
    TimedSync("sync after 100 changes (account manager)", 100, 0.1),
)


async def sync_all(client: httpx.AsyncClient, headers: dict[str, str], token: str | None) -> tuple[str, int, int]:
    """Page a sync to its end: the token it leaves, and how many records and pages it sent."""
    records = pages = 0
    while True:
        params: dict[str, Any] = {"limit": SYNC_PAGE} | ({"since": token} if token else {})
        response = await client.get(SYNC_ROUTE, params=params, headers=headers)
        response.raise_for_status()
        page = response.json()
        pages += 1
        records += sum(len(kind["upserts"]) + len(kind["deleted"]) for kind in page.values() if isinstance(kind, dict))
        token = page["token"]
        if not page["more"]:
            return page["token"], records, pages


async def edit_own_customers(client: httpx.AsyncClient, headers: dict[str, str], fixtures: Fixtures, count: int) -> None:
    """`count` edits of the account manager's customers, one after another, as a day in the field makes them."""
    for n in range(count):
        customer_id = fixtures.own_customer_ids[n % len(fixtures.own_customer_ids)]
        body = {"address": f"压测同步 {n} 号"}
        (await client.patch(f"/api/v1/customers/{customer_id}", json=body, headers=headers)).raise_for_status()
