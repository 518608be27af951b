"""A deterministic bench data set, bulk-loaded with COPY into a fresh PostgreSQL database.

    python -m bench.generate --scale small          # 20,000 customers, ~100,000 orders
    python -m bench.generate --scale full           # 1,000,000 customers, ~5,000,000 orders
    python -m bench.generate --scale 50000 --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/crm_bench

Beside customers and their orders it holds opportunities, service tickets and churn warnings in the states
the services would have left them in. The same seed and `--as-of` give the same rows. The database is
dropped and created again, migrated, given its reference data, loaded, indexed and analysed; its comment
records what it holds, which is how `bench.run` knows whether it can reuse it.
"""

import argparse
import asyncio
import json
import math
import random
import time
from array import array
from bisect import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import NamedTuple

import asyncpg
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from bench import vocabulary as words
from crm_api.bootstrap import seed_reference_data
from crm_api.cli import alembic_config
from crm_api.core.clock import clock
from crm_api.core.codes import series_sequence
from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.core.names import normalize_company_name
from crm_api.core.security import hash_password
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.models.custom_field import CustomFieldDefinition
from crm_api.models.sales import ALL_YEARS, COMPLETED_ORDER_STATUSES, DEFAULT_TAX_RATE
from crm_api.quotes.pricing import LinePrice, price_line, price_quote
from crm_api.tickets.demo import SLA_MINUTES
from crm_api.tickets.policy import TicketChannel
from crm_api.tickets.service import SATISFIED

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/crm_bench"
SCALES = {"tiny": 300, "small": 20_000, "medium": 200_000, "full": 1_000_000}
DEFAULT_SEED = 20261123
# Bump when the shape of the data changes, so `bench.run` regenerates instead of reusing.
GENERATOR_VERSION = 7
TICKET_CHANNELS = tuple(channel.value for channel in TicketChannel)  # plain strings for COPY, in a fixed order
BENCH_PASSWORD = "bench-password-2026"

# Staff: 200 users, supervisors and account managers spread over 20 teams.
TEAM_COUNT = 20
STAFF = (("admin", 2), ("executive", 4), ("marketer", 2), ("sales_supervisor", 20), ("account_manager", 172))
USERNAME_PREFIX = {"admin": "admin", "executive": "exec", "marketer": "mkt", "sales_supervisor": "sup", "account_manager": "am"}

ORDERS_PER_CUSTOMER = 5
MAX_ORDERS_PER_CUSTOMER = 3_000  # the biggest key accounts
# Share of customers that never ordered, and that stopped ordering more than six months ago.
NEVER_ORDERED, DORMANT = 0.15, 0.30
DORMANT_SINCE_DAYS = 200
HISTORY_DAYS = 3 * 365
CUSTOMER_AGE_DAYS = 5 * 365
# A text custom field every customer has (SA000…SA499): what the `cf.` filter scenario looks for.
SALES_AREA = {"key": "sales_area", "label": "销售片区", "type": "text"}
SALES_AREAS = 500
PRODUCT_COUNT = 2_000
CUSTOMER_CHUNK = 20_000

LEVEL_WEIGHTS = (50, 20, 15, 10, 5)  # regular … strategic partner, in dictionary order
OLD_ORDER_STATUSES = (6,) * 85 + (5,) * 12 + (4,) * 2 + (3,)
RECENT_ORDER_STATUSES = (1, 2, 3, 3, 4, 4, 4, 5, 5, 5)
LINES_PER_ORDER = (1, 1, 2, 2, 2, 3, 3, 4, 5)
INTERACTIONS_PER_CUSTOMER = (0, 0, 1, 1, 2, 2, 3, 4, 5)
BANKS = ("中国工商银行", "中国建设银行", "中国银行", "招商银行", "交通银行", "中国农业银行")
QUANTITIES = [Decimal(n).quantize(Decimal("0.001")) for n in range(21)]

# Opportunities, about 0.3 a customer, by status (None: none). A won one created its customer.
OPPORTUNITY_FATES = ("won",) * 12 + ("lost",) * 8 + ("assigned",) * 6 + ("unassigned",) * 4 + (None,) * 70
# How many stages before the last a won opportunity closed at (a win may skip stages).
WON_STAGES_EARLY = (0,) * 7 + (1,) * 2 + (2,)

TICKETS_PER_CUSTOMER = 0.5  # on average; each customer files them at the same rate over the days it has been one
SERVICE_TYPE_WEIGHTS = {"consultation": 5, "suggestion": 2, "complaint": 3}
PRIORITY_WEIGHTS = {"low": 20, "normal": 55, "high": 20, "urgent": 5}
FIRST_SATISFACTION = (1,) * 4 + (2,) * 6 + (3,) * 20 + (4,) * 40 + (5,) * 30  # below SATISFIED: handled again
SECOND_SATISFACTION = (3,) * 30 + (4,) * 45 + (5,) * 25
# Tickets of the last RECENT_TICKET_DAYS days are often still open; older ones rarely wait for feedback.
RECENT_TICKET_DAYS = 60

# Churn warnings of customers inactive for six months (no order in DORMANT_SINCE_DAYS, or none since created):
# the share of them confirmed as churned (~2 % of all customers) and still pending (open or postponed).
CONFIRMED_CHURN, PENDING_CHURN = 0.05, 0.25
INACTIVE_AFTER_DAYS = 185  # six calendar months and a day: the first scan after this opens the warning

# Quote to cash (#16), per customer at every scale: at full scale 100,000 quotes, 200,000 contracts, 600,000
# installments (1 to 6 a contract) and 400,000 receipts, with invoices for a few contracts.
QUOTES_PER_CUSTOMER, CONTRACTS_PER_CUSTOMER = 0.1, 0.2
INSTALLMENTS_PER_CUSTOMER, RECEIPTS_PER_CUSTOMER = 0.6, 0.4
MAX_INSTALLMENTS = 6
INVOICED_SHARE = 0.05  # of the contracts with money collected
DEAL_DAYS = 760  # quotes and contracts of the last two years, so installments fall due over them and the next year
PLAN_HORIZON = 365  # the last day a contract runs to, and an installment falls due, from today
DEAL_CUSTOMER_AGE = 40  # days a customer has been one before it is quoted or signs
QUOTE_FATES = (
    ("accepted",) * 35
    + ("rejected",) * 15
    + ("expired",) * 15
    + ("sent",) * 10
    + ("approved",) * 5
    + ("pending_approval",) * 5
    + ("draft",) * 15
)
LINES_PER_QUOTE = (1, 1, 2, 2, 3, 3, 4, 5, 6, 8)
DISCOUNTS = tuple(Decimal(p).quantize(Decimal("0.01")) for p in (0, 0, 0, 0, 0, 2, 3, 5, 5, 8, 10, 12, 15, 20))
QUOTE_VALIDITY_DAYS = Settings.model_fields["quote_validity_days"].default
DISCOUNT_THRESHOLD = Settings.model_fields["quote_discount_threshold"].default
RECENT_CONTRACT_DAYS, RECENT_CONTRACTS = 30, 0.08  # the share signed in the last month: drafts and pending among them
CONTRACT_LENGTHS = (182, 365, 365, 365, 730, 1095)
# Status of a contract signed before the last month, by whether its period is over.
ENDED_CONTRACT_FATES = ("completed",) * 16 + ("active",) * 3 + ("terminated",)
RUNNING_CONTRACT_FATES = ("active",) * 9 + ("terminated",)

# Time spans drawn for millions of rows, built once: making a timedelta costs more than the rest of a draw.
DAYS = tuple(timedelta(days=n) for n in range(181))
HOURS = tuple(timedelta(hours=n) for n in range(9))
OFFICE_HOURS = tuple(timedelta(minutes=n) for n in range(-480, 61))  # 09:00-18:00 in Shanghai around a moment


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count, by inversion (means of about 1 or less)."""
    count, term = 0, math.exp(-mean)
    cumulative, draw = term, rng.random()
    while draw > cumulative:
        count += 1
        term *= mean / count
        cumulative += term
    return count


def username(role: str, number: int) -> str:
    """Login of the `number`-th (from 1) bench user of a role, e.g. bench.am001."""
    return f"bench.{USERNAME_PREFIX[role]}{number:03d}"


def schema_head() -> str:
    """The migration revision a data set generated now is built on."""
    return ScriptDirectory.from_config(alembic_config(DEFAULT_DATABASE_URL)).get_current_head() or ""


@dataclass(frozen=True)
class DataSet:
    customers: int
    as_of: date
    seed: int = DEFAULT_SEED
    version: int = GENERATOR_VERSION
    schema: str = field(default_factory=schema_head)

    def describe(self) -> str:
        return json.dumps(asdict(self), default=str, sort_keys=True)


def customers_for(scale: str) -> int:
    return SCALES[scale] if scale in SCALES else int(scale)


def asyncpg_dsn(database_url: str, database: str | None = None) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


async def describe_existing(database_url: str) -> str | None:
    """The comment a finished generation left on the database, or None when it does not exist."""
    name = make_url(database_url).database
    connection = await asyncpg.connect(asyncpg_dsn(database_url, "postgres"))
    try:
        return await connection.fetchval("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", name)
    finally:
        await connection.close()


class Names:
    """Company, person and place names drawn from one seeded random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.suffixes = [s for s, _ in words.COMPANY_SUFFIXES]
        self.suffix_cum = list(accumulate(w for _, w in words.COMPANY_SUFFIXES))

    def company(self, city: str, industry: str) -> str:
        rng = self.rng
        brand = rng.choice(words.BRAND_CHARACTERS) + rng.choice(words.BRAND_CHARACTERS)
        suffix = self.suffixes[bisect(self.suffix_cum, rng.random() * self.suffix_cum[-1])]
        return f"{city}{brand}{rng.choice(words.INDUSTRY_WORDS[industry])}{suffix}"

    def person(self) -> str:
        rng = self.rng
        given = "".join(rng.choice(words.GIVEN_NAME_CHARACTERS) for _ in range(rng.choice((1, 2, 2))))
        return rng.choice(words.SURNAMES) + given

    def address(self, city: str) -> str:
        return f"{city}市{self.rng.choice(words.ROADS)}{self.rng.randint(1, 999)}号"

    def landline(self, area: str) -> tuple[str, str]:
        """A landline as people write it (0755-88881234) and in E.164."""
        local = str(self.rng.randint(20_000_000, 89_999_999))
        return f"0{area}-{local}", f"+86{area}{local}"

    def mobile(self) -> tuple[str, str]:
        number = f"1{self.rng.choice('3456789')}{self.rng.randint(0, 999_999_999):09d}"
        return number, f"+86{number}"


class Profile(NamedTuple):
    """What a customer's contacts, interactions, orders, opportunities and tickets take from it."""

    id: int
    name: str
    owner_id: int
    city: str
    address: str
    phone: str
    phone_e164: str
    created: int  # day offset from as_of
    created_at: datetime


class TicketKind(NamedTuple):
    """A service type and priority with its SLA (seconds to first response and to resolution) and its texts."""

    service_type: str
    priority: str
    response: int
    resolution: int
    response_due: timedelta
    resolve_due: timedelta
    texts: tuple[tuple[str, str], ...]  # summary, content


@dataclass
class ContractDraft:
    """A contract as drawn (offsets are days from as_of); a completed one closes once its receipts are known."""

    id: int
    customer: Profile
    quote_id: int | None
    title: str
    amount: Decimal
    status: str
    day: int  # drawn up, and unless a draft also signed, submitted and approved, that day
    start: int
    end: int
    sign_date: date | None
    start_date: date
    end_date: date
    created_at: datetime
    submitted_at: datetime | None
    activated_at: datetime | None
    closed: int | None = None
    closed_at: datetime | None = None
    termination_reason: str | None = None

    def row(self) -> tuple:
        return (
            self.id,
            f"HT{self.id:08d}",
            self.customer.id,
            self.customer.name,
            self.quote_id,
            self.customer.owner_id,
            self.title,
            self.amount,
            self.sign_date,
            self.start_date,
            self.end_date,
            self.status,
            self.submitted_at,
            self.activated_at,
            self.closed_at,
            self.termination_reason,
            self.created_at,
            self.closed_at or self.activated_at or self.submitted_at or self.created_at,
        )


class ReceiptDraft(NamedTuple):
    installment: int  # index in the chunk's installments
    cents: int
    day: int
    earliest: int  # the day its contract became active
    removable: bool  # not what a completed contract was paid in full with


class Loader:
    """COPYs rows table by table and keeps rows/seconds per table (generation included)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.stats: dict[str, list[float]] = {}

    async def copy(self, table: str, columns: Sequence[str], rows: Iterable[tuple], started: float) -> None:
        rows = list(rows)
        await self.connection.copy_records_to_table(table, records=rows, columns=list(columns))
        self.charge(table, time.perf_counter() - started, len(rows))

    def charge(self, table: str, seconds: float, rows: int = 0) -> None:
        """Count time spent on a table's rows outside `copy`, e.g. drawing them ahead of the rows they shape."""
        stat = self.stats.setdefault(table, [0, 0.0])
        stat[0] += rows
        stat[1] += seconds


CUSTOMER_COLUMNS = (
    "id",
    "code",
    "external_id",
    "name",
    "name_normalized",
    "region",
    "owner_id",
    "level",
    "industry",
    "satisfaction",
    "credit",
    "address",
    "postal_code",
    "phone",
    "phone_e164",
    "fax",
    "website",
    "email",
    "business_licence_no",
    "legal_representative",
    "registered_capital",
    "annual_turnover",
    "bank",
    "bank_account",
    "local_tax_no",
    "national_tax_no",
    "custom_fields",
    "status",
    "churned_at",
    "created_by_id",
    "created_at",
    "updated_at",
    "deleted_at",
    "legacy_duplicate",
)
CONTACT_COLUMNS = (
    "id",
    "customer_id",
    "name",
    "gender",
    "title",
    "office_phone",
    "office_phone_e164",
    "mobile",
    "mobile_e164",
    "email",
    "notes",
    "marketing_consent",
    "created_at",
    "updated_at",
)
INTERACTION_COLUMNS = (
    "id",
    "customer_id",
    "occurred_on",
    "location",
    "summary",
    "details",
    "notes",
    "created_by_id",
    "created_at",
    "updated_at",
)
ORDER_COLUMNS = ("id", "external_id", "number", "customer_id", "order_date", "shipping_address", "status", "total", "synced_at")
LINE_COLUMNS = ("id", "order_id", "line_no", "product_id", "product_name", "quantity", "unit", "unit_price")
SLA_COLUMNS = ("id", "service_type", "priority", "first_response_minutes", "resolution_minutes", "created_at", "updated_at")
OPPORTUNITY_COLUMNS = (
    "id",
    "code",
    "source",
    "customer_name",
    "success_probability",
    "summary",
    "contact_name",
    "contact_phone",
    "description",
    "expected_amount",
    "expected_close_date",
    "stage",
    "status",
    "created_by_id",
    "assignee_id",
    "assigned_at",
    "stage_since",
    "closed_at",
    "lost_reason",
    "customer_id",
    "created_at",
    "updated_at",
)
STAGE_CHANGE_COLUMNS = ("id", "opportunity_id", "from_stage", "to_stage", "changed_by_id", "changed_at")
TICKET_COLUMNS = (
    "id",
    "code",
    "service_type",
    "summary",
    "customer_id",
    "channel",
    "priority",
    "content",
    "status",
    "created_by_id",
    "assignee_id",
    "assigned_at",
    "routing_rule_id",
    "response_due_at",
    "resolve_due_at",
    "first_handled_at",
    "archived_at",
    "created_at",
    "updated_at",
)
TICKET_ASSIGNMENT_COLUMNS = ("id", "ticket_id", "assignee_id", "assigned_by_id", "routing_rule_id", "assigned_at")
TICKET_HANDLING_COLUMNS = ("id", "ticket_id", "handler_id", "method", "handled_at")
TICKET_FEEDBACK_COLUMNS = ("id", "ticket_id", "author_id", "result", "satisfaction", "created_at")
WARNING_COLUMNS = (
    "id",
    "customer_id",
    "status",
    "opened_at",
    "last_order_date_at_open",
    "confirmed_at",
    "confirmed_by_id",
    "confirm_reason",
    "created_at",
    "updated_at",
)
MEASURE_COLUMNS = ("id", "warning_id", "measure", "author_id", "created_at")
QUOTE_COLUMNS = (
    "id",
    "number",
    "revision",
    "customer_id",
    "opportunity_id",
    "counterparty_name",
    "owner_id",
    "title",
    "notes",
    "valid_until",
    "status",
    "subtotal",
    "discount",
    "tax",
    "total",
    "max_discount",
    "submitted_at",
    "approved_at",
    "sent_at",
    "responded_at",
    "response_by",
    "response_note",
    "response_recorded_by_id",
    "expired_at",
    "previous_id",
    "superseded_by_id",
    "created_at",
    "updated_at",
)
QUOTE_LINE_COLUMNS = (
    "id",
    "quote_id",
    "line_no",
    "product_id",
    "product_code",
    "product_name",
    "model",
    "unit",
    "quantity",
    "unit_price",
    "discount_percent",
    "tax_rate",
    "subtotal",
    "discount",
    "tax",
    "total",
)
CONTRACT_COLUMNS = (
    "id",
    "number",
    "customer_id",
    "customer_name",
    "quote_id",
    "owner_id",
    "title",
    "amount",
    "sign_date",
    "start_date",
    "end_date",
    "status",
    "submitted_at",
    "activated_at",
    "closed_at",
    "termination_reason",
    "created_at",
    "updated_at",
)
INSTALLMENT_COLUMNS = ("id", "contract_id", "due_date", "amount", "collected", "created_at")
RECEIPT_COLUMNS = ("id", "installment_id", "contract_id", "amount", "received_on", "method", "recorded_by_id", "created_at")
INVOICE_COLUMNS = ("id", "contract_id", "kind", "number", "amount", "issued_on", "created_by_id", "created_at")
BULK_TABLES = (
    "teams",
    "users",
    "customers",
    "contacts",
    "interactions",
    "products",
    "inventory_items",
    "orders",
    "order_lines",
    "sla_policies",
    "opportunities",
    "opportunity_stage_changes",
    "service_tickets",
    "ticket_assignments",
    "ticket_handlings",
    "ticket_feedbacks",
    "churn_warnings",
    "churn_measures",
    "quotes",
    "quote_lines",
    "contracts",
    "contract_installments",
    "contract_receipts",
    "contract_invoices",
)
# Per-table random streams drawn chunk by chunk, each customer in id order.
CHUNK_STREAMS = ("customers", "contacts", "interactions", "orders", "opportunities", "tickets", "churn", "deals")
STATUS, DELETED_AT = CUSTOMER_COLUMNS.index("status"), CUSTOMER_COLUMNS.index("deleted_at")


class Generator:
    def __init__(self, data: DataSet, loader: Loader, dictionary: dict[str, list[str]], role_ids: dict[str, int]):
        self.data, self.loader = data, loader
        self.dictionary, self.role_ids = dictionary, role_ids
        self.regions = [r for r in dictionary["region"] if r in words.REGION_CITIES]
        self.industries = [i for i in dictionary["industry"] if i in words.INDUSTRY_WORDS]
        self.level_cum = list(accumulate(LEVEL_WEIGHTS[: len(dictionary["customer_level"])]))
        self.stages = dictionary["opportunity_stage"]
        self.lead_sources = [*dictionary["lead_source"], None]
        self.service_types = [t for t in dictionary["service_type"] if t in words.TICKET_SUMMARIES]
        # Day offsets from as_of (-CUSTOMER_AGE_DAYS … PLAN_HORIZON) to dates and to 09:00 UTC on that day.
        first = data.as_of - timedelta(days=CUSTOMER_AGE_DAYS)
        self.days = [first + timedelta(days=n) for n in range(CUSTOMER_AGE_DAYS + PLAN_HORIZON + 1)]
        self.moments = [datetime(d.year, d.month, d.day, 9, tzinfo=UTC) for d in self.days]
        self.loaded_at = datetime(data.as_of.year, data.as_of.month, data.as_of.day, tzinfo=UTC)
        self.account_managers: list[int] = []
        # Hashes of the names and phones live customers already have: a random name or phone drawn twice makes a
        # duplicate from before the duplicate guard, marked as its migration marks them (outside its unique indexes).
        self.taken: set[int] = set()
        self.team_of: dict[int, int] = {}  # user -> team
        self.team_managers: dict[int, list[int]] = defaultdict(list)  # team -> its account managers
        self.supervisor_of: dict[int, int] = {}  # team -> its supervisor
        self.ticket_kinds: list[TicketKind] = []  # each repeated by its weight: a draw is a ticket's kind
        days_as_customers = sum(-1 - self.history_start(cid) for cid in range(1, data.customers + 1))
        self.tickets_per_day = TICKETS_PER_CUSTOMER * data.customers / days_as_customers
        self.next_order_id = self.next_line_id = self.next_interaction_id = 1
        self.last_ids: dict[str, int] = defaultdict(int)  # by table, for the tables numbered through new_id

    def rng(self, stream: str) -> random.Random:
        # One stream per table: each table is the same whatever the others draw.
        return random.Random(f"{self.data.seed}:{stream}")

    def new_id(self, table: str) -> int:
        self.last_ids[table] += 1
        return self.last_ids[table]

    def day(self, offset: int) -> date:
        return self.days[CUSTOMER_AGE_DAYS + offset]

    def moment(self, offset: int) -> datetime:
        return self.moments[CUSTOMER_AGE_DAYS + offset]

    def owner(self, cid: int) -> int:
        return self.account_managers[(cid - 1) % len(self.account_managers)]

    async def staff(self) -> None:
        started = time.perf_counter()
        names = Names(self.rng("staff"))
        teams = [
            (
                n,
                f"{words.TEAM_AREAS[(n - 1) % len(words.TEAM_AREAS)]}销售{(n - 1) // len(words.TEAM_AREAS) + 1}部",
                None,
                self.loaded_at,
                self.loaded_at,
            )
            for n in range(1, TEAM_COUNT + 1)
        ]
        await self.loader.copy("teams", ("id", "name", "description", "created_at", "updated_at"), teams, started)
        started = time.perf_counter()
        password = hash_password(BENCH_PASSWORD)  # argon2 is slow on purpose: hash once for everyone
        users, grants, user_id = [], [], 0
        for role, count in STAFF:
            for number in range(1, count + 1):
                user_id += 1
                in_team = role in ("sales_supervisor", "account_manager")
                team_id = (number - 1) % TEAM_COUNT + 1 if in_team else None
                login = username(role, number)
                users.append(
                    (
                        user_id,
                        login,
                        names.person(),
                        f"{login}@bench.example.cn",
                        password,
                        True,
                        team_id,
                        None,
                        self.loaded_at,
                        self.loaded_at,
                    )
                )
                grants.append((user_id, self.role_ids[role]))
                if team_id is not None:
                    self.team_of[user_id] = team_id
                if role == "account_manager":
                    self.account_managers.append(user_id)
                    self.team_managers[team_id].append(user_id)
                elif role == "sales_supervisor":
                    self.supervisor_of[team_id] = user_id
        columns = (
            "id",
            "username",
            "full_name",
            "email",
            "password_hash",
            "active",
            "team_id",
            "tokens_valid_after",
            "created_at",
            "updated_at",
        )
        await self.loader.copy("users", columns, users, started)
        await self.loader.copy("user_roles", ("user_id", "role_id"), grants, time.perf_counter())

    async def products(self) -> None:
        started = time.perf_counter()
        rng = self.rng("products")
        self.product_rows = []
        for pid in range(1, PRODUCT_COUNT + 1):
            kind = rng.choice(words.PRODUCT_KINDS)
            series = f"{rng.choice('ABCDEFGHJKMNPRSTX')}{rng.randint(100, 999)}"
            price = Decimal(rng.randint(2_000, 2_000_000)).scaleb(-2)
            self.product_rows.append(
                (
                    pid,
                    f"P{pid:06d}",
                    f"{series}型{kind}",
                    f"{series}-{rng.randint(1, 99):02d}",
                    f"B{rng.randint(2023, 2026)}{rng.randint(1, 999):03d}",
                    rng.choice(words.PRODUCT_UNITS),
                    price,
                    self.loaded_at,
                )
            )
        # Popularity falls with rank (Zipf-like): a few products are on most orders.
        self.product_cum = list(accumulate(1 / (rank + 1) ** 0.8 for rank in range(PRODUCT_COUNT)))
        columns = ("id", "external_id", "name", "model", "batch", "unit", "price", "synced_at")
        await self.loader.copy("products", columns, self.product_rows, started)
        started = time.perf_counter()
        stock, item_id = [], 0
        for pid in range(1, PRODUCT_COUNT + 1):
            for warehouse in rng.sample(words.WAREHOUSES, rng.randint(1, 3)):
                item_id += 1
                stock.append(
                    (
                        item_id,
                        f"INV{item_id:07d}",
                        pid,
                        warehouse,
                        f"{rng.choice('ABCDEF')}-{rng.randint(1, 40):02d}",
                        rng.randint(0, 5_000),
                        self.loaded_at,
                    )
                )
        columns = ("id", "external_id", "product_id", "warehouse", "location", "quantity", "synced_at")
        await self.loader.copy("inventory_items", columns, stock, started)

    async def service_desk(self) -> None:
        """SLA policies per service type and priority (complaints get half the time): tickets' due times."""
        started = time.perf_counter()
        rows = []
        for service_type in self.service_types:
            summaries = [
                summary.format(kind=kind) for summary in words.TICKET_SUMMARIES[service_type] for kind in words.PRODUCT_KINDS
            ]
            texts = tuple((summary, f"{summary}，请尽快处理。") for summary in summaries)
            for priority, (response, resolution) in SLA_MINUTES.items():
                divisor = 2 if service_type == "complaint" else 1
                response, resolution = response // divisor, resolution // divisor
                rows.append((len(rows) + 1, service_type, priority, response, resolution, self.loaded_at, self.loaded_at))
                kind = TicketKind(
                    service_type,
                    priority,
                    response * 60,
                    resolution * 60,
                    timedelta(minutes=response),
                    timedelta(minutes=resolution),
                    texts,
                )
                self.ticket_kinds += [kind] * SERVICE_TYPE_WEIGHTS.get(service_type, 1) * PRIORITY_WEIGHTS[priority]
        await self.loader.copy("sla_policies", SLA_COLUMNS, rows, started)

    def order_counts(self) -> array:
        """Orders per customer: none, dormant or active; Pareto-skewed so a few customers buy a lot.

        Negative counts mark dormant customers (no order in the last DORMANT_SINCE_DAYS days).
        """
        rng = self.rng("order-counts")
        weights = array("d")
        for cid in range(1, self.data.customers + 1):
            kind = rng.random()
            weight = 0.0 if kind < NEVER_ORDERED else rng.paretovariate(1.16)
            dormant = NEVER_ORDERED <= kind < NEVER_ORDERED + DORMANT
            if dormant and self.created_offset(cid) > -DORMANT_SINCE_DAYS:
                weight = 0.0  # too new to have stopped ordering six months ago
            weights.append(-weight if dormant else weight)
        # Orders per unit of weight, so that the counts, capped for the biggest accounts, add up to the target.
        target = self.data.customers * ORDERS_PER_CUSTOMER
        per_weight = target / sum(abs(w) for w in weights)
        for _ in range(8):  # the heavy tail loses much to the cap: raise the rate until the sum fits
            per_weight *= target / sum(min(abs(w) * per_weight, MAX_ORDERS_PER_CUSTOMER) for w in weights)
        counts = array("l")
        for weight in weights:
            count = min(int(abs(weight) * per_weight + rng.random()), MAX_ORDERS_PER_CUSTOMER)
            counts.append(-count if weight < 0 else count)
        return counts

    async def customers(self) -> None:
        counts = self.order_counts()
        rngs = {name: self.rng(name) for name in CHUNK_STREAMS}
        names = {name: Names(rng) for name, rng in rngs.items()}
        for first in range(1, self.data.customers + 1, CUSTOMER_CHUNK):
            ids = range(first, min(first + CUSTOMER_CHUNK, self.data.customers + 1))
            await self.chunk(ids, counts, rngs, names)

    async def chunk(self, ids: range, counts: array, rngs: dict[str, random.Random], names: dict[str, Names]) -> None:
        """One chunk of customers with everything that hangs off them."""
        # Orders and churn first: a customer's status depends on whether its churn was confirmed, which
        # depends on when it last ordered.
        started = time.perf_counter()
        drafts, last_completed = self.order_drafts(ids, counts, rngs["orders"])
        drafting = time.perf_counter() - started
        started = time.perf_counter()
        warnings, measures, churned = self.churn_warnings(ids, counts, last_completed, rngs["churn"])
        warning_seconds = time.perf_counter() - started
        started = time.perf_counter()
        customers = [self.customer(cid, rngs["customers"], names["customers"], churned.get(cid)) for cid in ids]
        await self.loader.copy("customers", CUSTOMER_COLUMNS, (row for row, _ in customers), started)
        profiles = [profile for _, profile in customers]
        started = time.perf_counter()
        contacts = [self.contact(c, n, rngs["contacts"], names["contacts"]) for c in profiles for n in (0, 1)]
        await self.loader.copy("contacts", CONTACT_COLUMNS, contacts, started)
        started = time.perf_counter()
        interactions = [row for c in profiles for row in self.interactions(c, rngs["interactions"])]
        await self.loader.copy("interactions", INTERACTION_COLUMNS, interactions, started)
        self.loader.charge("orders", drafting)
        started = time.perf_counter()
        orders, lines = self.orders(drafts, profiles, rngs["orders"])
        await self.loader.copy("orders", ORDER_COLUMNS, orders, started)
        await self.loader.copy("order_lines", LINE_COLUMNS, lines, time.perf_counter())
        started = time.perf_counter()
        first_contacts = [row[2] for row in contacts[::2]]
        opportunities, stage_changes = self.opportunities(profiles, first_contacts, rngs["opportunities"], names["opportunities"])
        await self.loader.copy("opportunities", OPPORTUNITY_COLUMNS, opportunities, started)
        await self.loader.copy("opportunity_stage_changes", STAGE_CHANGE_COLUMNS, stage_changes, time.perf_counter())
        started = time.perf_counter()
        tickets, assignments, handlings, feedbacks = self.tickets(profiles, rngs["tickets"])
        await self.loader.copy("service_tickets", TICKET_COLUMNS, tickets, started)
        await self.loader.copy("ticket_assignments", TICKET_ASSIGNMENT_COLUMNS, assignments, time.perf_counter())
        await self.loader.copy("ticket_handlings", TICKET_HANDLING_COLUMNS, handlings, time.perf_counter())
        await self.loader.copy("ticket_feedbacks", TICKET_FEEDBACK_COLUMNS, feedbacks, time.perf_counter())
        self.loader.charge("churn_warnings", warning_seconds)
        await self.loader.copy("churn_warnings", WARNING_COLUMNS, warnings, time.perf_counter())
        await self.loader.copy("churn_measures", MEASURE_COLUMNS, measures, time.perf_counter())
        clients = [
            profile
            for row, profile in customers
            if row[STATUS] == "active" and row[DELETED_AT] is None and profile.created < -DEAL_CUSTOMER_AGE
        ]
        if clients:
            await self.deals(ids, clients, rngs["deals"], names["deals"])

    async def deals(self, ids: range, clients: list[Profile], rng: random.Random, names: Names) -> None:
        """The chunk's share of quotes, contracts, installments and receipts, among the customers old enough to have them."""
        started = time.perf_counter()
        quotes, lines, accepted = self.quotes(clients, self.share(QUOTES_PER_CUSTOMER, ids), rng, names)
        await self.loader.copy("quotes", QUOTE_COLUMNS, quotes, started)
        await self.loader.copy("quote_lines", QUOTE_LINE_COLUMNS, lines, time.perf_counter())
        started = time.perf_counter()
        contracts = self.contract_drafts(clients, accepted, self.share(CONTRACTS_PER_CUSTOMER, ids), rng)
        installments, receipts = self.payment_plans(contracts, ids, rng)
        invoices = self.invoices(contracts, installments, rng)
        await self.loader.copy("contracts", CONTRACT_COLUMNS, (contract.row() for contract in contracts), started)
        await self.loader.copy("contract_installments", INSTALLMENT_COLUMNS, installments, time.perf_counter())
        await self.loader.copy("contract_receipts", RECEIPT_COLUMNS, receipts, time.perf_counter())
        await self.loader.copy("contract_invoices", INVOICE_COLUMNS, invoices, time.perf_counter())

    @staticmethod
    def share(per_customer: float, ids: range) -> int:
        """A chunk's part of a count proportional to the customers: the parts add up to the whole's rounded count."""
        return round(per_customer * (ids.stop - 1)) - round(per_customer * (ids.start - 1))

    def created_offset(self, cid: int) -> int:
        """Day the customer was created: ids follow creation over the last five years."""
        return -CUSTOMER_AGE_DAYS + (cid - 1) * (CUSTOMER_AGE_DAYS - 1) // self.data.customers

    def history_start(self, cid: int) -> int:
        """First day of the customer's history: its creation, or three years ago."""
        return max(self.created_offset(cid), -HISTORY_DAYS)

    def already_taken(self, *keys: tuple[str, str]) -> bool:
        """Whether a live customer already has one of these keys; takes them when none has."""
        hashes = [hash(key) for key in keys]
        if any(h in self.taken for h in hashes):
            return True
        self.taken.update(hashes)
        return False

    def customer(self, cid: int, rng: random.Random, names: Names, churned_at: datetime | None) -> tuple[tuple, Profile]:
        region = rng.choice(self.regions)
        city, area = rng.choice(words.REGION_CITIES[region])
        industry = rng.choice(self.industries)
        level = self.dictionary["customer_level"][bisect(self.level_cum, rng.random() * self.level_cum[-1])]
        owner = self.owner(cid)
        phone, phone_e164 = names.landline(area)
        created = self.created_offset(cid)
        deleted = rng.random() < 0.005
        licence = f"91{int(area):04d}{cid:012d}"
        code = f"KH{cid:08d}"
        address = names.address(city)
        name = names.company(city, industry)
        key = normalize_company_name(name)
        duplicate = not deleted and self.already_taken(("name", key), ("phone", phone_e164))
        row = (
            cid,
            code,
            f"ERP-C{cid:08d}" if rng.random() < 0.8 else None,
            name,
            key,
            region,
            owner,
            level,
            industry,
            rng.randint(1, 5),
            rng.randint(1, 5),
            address,
            f"{rng.randint(100_000, 850_000)}",
            phone,
            phone_e164,
            phone if rng.random() < 0.3 else None,
            f"https://www.{code.lower()}.example.cn",
            f"info@{code.lower()}.example.cn",
            licence,
            names.person(),
            Decimal(rng.randint(10, 50_000) * 10_000),
            Decimal(rng.randint(50, 500_000) * 10_000),
            rng.choice(BANKS),
            f"6222{cid:012d}",
            licence,
            licence,
            sales_area_document(cid),
            "churned" if churned_at else "active",
            churned_at,
            owner,
            self.moment(created),
            churned_at or self.moment(created),
            self.moment(-rng.randint(1, 90)) if deleted else None,
            duplicate,
        )
        return row, Profile(cid, name, owner, city, address, phone, phone_e164, created, self.moment(created))

    def contact(self, customer: Profile, number: int, rng: random.Random, names: Names) -> tuple:
        contact_id = (customer.id - 1) * 2 + number + 1
        mobile, mobile_e164 = names.mobile()
        return (
            contact_id,
            customer.id,
            names.person(),
            rng.choice(("male", "female")),
            rng.choice(words.CONTACT_TITLES),
            customer.phone,
            customer.phone_e164,
            mobile,
            mobile_e164,
            f"contact{contact_id}@bench.example.cn",
            None,
            rng.random() < 0.4,
            customer.created_at,
            customer.created_at,
        )

    def interactions(self, customer: Profile, rng: random.Random) -> list[tuple]:
        rows = []
        for _ in range(rng.choice(INTERACTIONS_PER_CUSTOMER)):
            offset = rng.randint(self.history_start(customer.id), 0)
            summary = rng.choice(words.INTERACTION_SUMMARIES)
            rows.append(
                (
                    self.next_interaction_id,
                    customer.id,
                    self.day(offset),
                    f"{customer.city}{rng.choice(words.INTERACTION_PLACES)}",
                    summary,
                    f"{summary}：{rng.choice(words.INTERACTION_OUTCOMES)}",
                    None,
                    customer.owner_id,
                    self.moment(offset),
                    self.moment(offset),
                )
            )
            self.next_interaction_id += 1
        return rows

    def order_drafts(self, ids: range, counts: array, rng: random.Random) -> tuple[list[tuple], dict[int, int]]:
        """A chunk's orders as (day, customer id, status, line count) in date order, so a customer's orders scatter
        over the table; and the day of each dormant customer's last shipped or paid order."""
        drafts, last_completed = [], {}
        for cid in ids:
            count = counts[cid - 1]
            last = -DORMANT_SINCE_DAYS if count < 0 else 0
            start = self.history_start(cid)
            if start > last:
                continue
            own = len(drafts)
            for _ in range(abs(count)):
                offset = rng.randint(start, last)
                statuses = RECENT_ORDER_STATUSES if offset > -15 else OLD_ORDER_STATUSES
                drafts.append((offset, cid, rng.choice(statuses), rng.choice(LINES_PER_ORDER)))
            if count < 0:
                completed = [draft[0] for draft in drafts[own:] if draft[2] in COMPLETED_ORDER_STATUSES]
                if completed:
                    last_completed[cid] = max(completed)
        drafts.sort(key=lambda draft: draft[0])
        return drafts, last_completed

    def orders(self, drafts: list[tuple], profiles: list[Profile], rng: random.Random) -> tuple[list, list]:
        """The drafted orders numbered in date order, with their lines."""
        orders, lines = [], []
        for offset, customer_id, status, line_count in drafts:
            order_id, total_cents = self.next_order_id, 0
            for line_no in range(1, line_count + 1):
                product = self.product_rows[bisect(self.product_cum, rng.random() * self.product_cum[-1])]
                quantity = int(rng.random() * 20) + 1
                total_cents += quantity * int(product[6] * 100)
                lines.append(
                    (self.next_line_id, order_id, line_no, product[0], product[2], QUANTITIES[quantity], product[5], product[6])
                )
                self.next_line_id += 1
            day = self.day(offset)
            address = profiles[customer_id - profiles[0].id].address
            orders.append(
                (
                    order_id,
                    f"ERP-O{order_id:09d}",
                    f"SO{day:%Y%m%d}{order_id:09d}",
                    customer_id,
                    day,
                    address,
                    status,
                    Decimal(total_cents).scaleb(-2),
                    self.loaded_at,
                )
            )
            self.next_order_id += 1
        return orders, lines

    def opportunities(
        self, profiles: list[Profile], first_contacts: list[str], rng: random.Random, names: Names
    ) -> tuple[list, list]:
        """About 0.3 a customer, created by the account manager or their supervisor and worked by the manager.

        A won one made its customer (same name, first contact and owner, created when it was won); the others
        are prospects. Each stage change after the assignment leaves a row of history.
        """
        drafts, last = [], len(self.stages) - 1
        for customer, contact_name in zip(profiles, first_contacts, strict=True):
            status = rng.choice(OPPORTUNITY_FATES)
            if status is None:
                continue
            team = self.team_of[customer.owner_id]
            creator = customer.owner_id if rng.random() < 0.6 else self.supervisor_of[team]
            kind, need = rng.choice(words.PRODUCT_KINDS), rng.choice(words.OPPORTUNITY_NEEDS)
            if status == "won":
                closed = customer.created_at
                assigned = closed - DAYS[rng.randint(20, 180)]
                created = assigned - DAYS[rng.randint(0, 14)] - HOURS[rng.randint(1, 8)]
                prospect, contact, phone = customer.name, contact_name, customer.phone
            else:
                region = rng.choice(self.regions)
                city = rng.choice(words.REGION_CITIES[region])[0]
                prospect, contact = names.company(city, rng.choice(self.industries)), names.person()
                phone = names.mobile()[0]
                if status == "lost":
                    created = self.moment(rng.randint(-HISTORY_DAYS, -40))
                    assigned = created + DAYS[rng.randint(0, 10)] + HOURS[rng.randint(1, 8)]
                    closed = min(assigned + DAYS[rng.randint(10, 150)], self.moment(-1))
                elif status == "assigned":
                    created = self.moment(rng.randint(-200, -3))
                    assigned, closed = created + DAYS[rng.randint(0, 2)] + HOURS[rng.randint(1, 8)], None
                else:
                    created, assigned, closed = self.moment(rng.randint(-45, -1)), None, None
            initial = 0 if rng.random() < 0.85 else 1
            if status == "won":
                final = max(initial, last - rng.choice(WON_STAGES_EARLY))
            elif status in ("lost", "assigned"):
                final = rng.randint(initial, last)
            else:
                final = initial
            changes = []
            if assigned is not None:
                span, steps = (closed or self.loaded_at) - assigned, final - initial
                changes = [
                    (self.stages[s - 1], self.stages[s], customer.owner_id, assigned + span * (s - initial) / (steps + 1))
                    for s in range(initial + 1, final + 1)
                ]
            stage_since = changes[-1][-1] if changes else assigned
            row = (
                rng.choice(self.lead_sources),
                prospect,
                rng.randrange(10, 100, 10),
                f"{need}：{kind}",
                contact,
                phone,
                f"客户计划{need}，需要{kind}，已初步沟通需求与预算。",
                Decimal(rng.randint(5, 5_000) * 1_000),
                (created + DAYS[rng.randint(30, 180)]).date(),
                self.stages[final],
                status,
                creator,
                customer.owner_id if assigned else None,
                assigned,
                stage_since,
                closed,
                rng.choice(words.LOST_REASONS) if status == "lost" else None,
                customer.id if status == "won" else None,
                created,
                closed or stage_since or created,
            )
            drafts.append((created, row, changes))
        drafts.sort(key=lambda draft: draft[0])
        opportunities, stage_changes = [], []
        for _, row, changes in drafts:
            opportunity_id = self.new_id("opportunities")
            opportunities.append((opportunity_id, f"JH{opportunity_id:08d}", *row))
            stage_changes += [(self.new_id("opportunity_stage_changes"), opportunity_id, *change) for change in changes]
        return opportunities, stage_changes

    def tickets(self, profiles: list[Profile], rng: random.Random) -> tuple[list, list, list, list]:
        """About 0.5 a customer over the three years, created by its account manager in business hours and
        assigned by the team's supervisor to a manager of the team; each then goes assign → handle → feedback
        as far as time (and, for some, neglect) allows. A dissatisfied feedback sends it back for one more handling."""
        drafts = []
        for customer in profiles:
            start = self.history_start(customer.id)
            for _ in range(poisson(rng, self.tickets_per_day * (-1 - start))):
                offset = rng.randint(start + 1, -1)
                drafts.append((self.moment(offset) + rng.choice(OFFICE_HOURS), offset, customer))
        drafts.sort(key=lambda draft: draft[0])
        tickets, assignments, handlings, feedbacks = [], [], [], []
        for created, offset, customer in drafts:
            ticket_id = self.new_id("service_tickets")
            kind = rng.choice(self.ticket_kinds)
            summary, content = rng.choice(kind.texts)
            team = self.team_of[customer.owner_id]
            assignee = rng.choice(self.team_managers[team])
            # How far it may get: 0 new, 1 assigned, 2 handled, 3 as far as time allows.
            neglect = rng.random()
            if offset >= -RECENT_TICKET_DAYS:
                reach = 0 if neglect < 0.05 else 1 if neglect < 0.15 else 2 if neglect < 0.30 else 3
            else:
                reach = 2 if neglect < 0.005 else 3
            status, assigned_at, first_handled, archived, updated = "new", None, None, None, created
            at = created + timedelta(0, kind.response * rng.uniform(0.05, 0.4))
            if reach > 0 and at <= self.loaded_at:
                assignments.append((self.new_id("ticket_assignments"), ticket_id, assignee, self.supervisor_of[team], None, at))
                status, assigned_at, updated = "assigned", at, at
                for attempt in range(2):
                    at += timedelta(0, kind.response * rng.lognormvariate(-1.0, 0.6))
                    if reach < 2 or at > self.loaded_at:
                        break
                    handlings.append(
                        (self.new_id("ticket_handlings"), ticket_id, assignee, rng.choice(words.HANDLING_METHODS), at)
                    )
                    status, first_handled, updated = "handled", first_handled or at, at
                    at += timedelta(0, kind.resolution * rng.lognormvariate(-1.4, 0.7))
                    if reach < 3 or at > self.loaded_at:
                        break
                    satisfaction = rng.choice(SECOND_SATISFACTION if attempt else FIRST_SATISFACTION)
                    satisfied = satisfaction >= SATISFIED
                    result = rng.choice(words.SATISFIED_RESULTS if satisfied else words.UNSATISFIED_RESULTS)
                    feedbacks.append((self.new_id("ticket_feedbacks"), ticket_id, customer.owner_id, result, satisfaction, at))
                    updated = at
                    if satisfied:
                        status, archived = "archived", at
                        break
                    status = "assigned"
            tickets.append(
                (
                    ticket_id,
                    f"FW{ticket_id:08d}",
                    kind.service_type,
                    summary,
                    customer.id,
                    rng.choice(TICKET_CHANNELS),
                    kind.priority,
                    content,
                    status,
                    customer.owner_id,
                    assignee if assigned_at else None,
                    assigned_at,
                    None,
                    created + kind.response_due,
                    created + kind.resolve_due,
                    first_handled,
                    archived,
                    created,
                    updated,
                )
            )
        return tickets, assignments, handlings, feedbacks

    def churn_warnings(
        self, ids: range, counts: array, last_completed: dict[int, int], rng: random.Random
    ) -> tuple[list, list, dict[int, datetime]]:
        """Warnings of some of a chunk's inactive customers, opened by the weekly scan after six months without a
        shipped or paid order (or since creation), then worked by the owner: still open, postponed with measures,
        or confirmed with a reason after at least one measure. Also when each confirmed customer churned."""
        warnings, measures, churned = [], [], {}
        for cid in ids:
            created = self.created_offset(cid)
            if counts[cid - 1] > 0 or created > -DORMANT_SINCE_DAYS:
                continue
            fate = rng.random()
            if fate >= CONFIRMED_CHURN + PENDING_CHURN:
                continue
            last_order = last_completed.get(cid)
            opened = (created if last_order is None else last_order) + INACTIVE_AFTER_DAYS + rng.randint(0, 6)
            confirmed = fate < CONFIRMED_CHURN
            # Measures fall on days before `end`: the confirmation day, or today for a pending warning.
            end = min(opened + rng.randint(14, 90), -1) if confirmed else 0
            # Confirming needs a measure first; about half the pending ones have one (postponed).
            measure_count = rng.choice((1, 1, 1, 2, 3) if confirmed else (0, 0, 0, 1, 1, 2))
            warning_id, owner = self.new_id("churn_warnings"), self.owner(cid)
            opened_at = self.moment(opened)
            updated = opened_at
            for n, day in enumerate(sorted(rng.randint(opened, end - 1) for _ in range(measure_count)), start=1):
                updated = self.moment(day) + timedelta(hours=n)
                measures.append((self.new_id("churn_measures"), warning_id, rng.choice(words.CHURN_MEASURES), owner, updated))
            confirmed_at = self.moment(end) + timedelta(hours=4) if confirmed else None
            if confirmed_at:
                churned[cid] = updated = confirmed_at
            status = "confirmed" if confirmed else "postponed" if measure_count else "open"
            warnings.append(
                (
                    warning_id,
                    cid,
                    status,
                    opened_at,
                    self.day(last_order) if last_order is not None else None,
                    confirmed_at,
                    owner if confirmed else None,
                    rng.choice(words.CHURN_REASONS) if confirmed else None,
                    opened_at,
                    updated,
                )
            )
        return warnings, measures, churned

    def quotes(self, clients: list[Profile], count: int, rng: random.Random, names: Names) -> tuple[list, list, list]:
        """`count` quotes for the chunk's customers by their owners, priced as the service prices them, each as far
        along as its fate allows: drafts and ones awaiting approval recent, approved and sent ones still valid,
        answered ones answered within their validity, expired ones past it. Also the accepted ones, which become
        contracts: (quote id, customer, day answered, total, product kind)."""
        drafts = []
        for _ in range(count):
            customer, fate = rng.choice(clients), rng.choice(QUOTE_FATES)
            kind = rng.choice(words.PRODUCT_KINDS)
            terms = []
            for _ in range(rng.choice(LINES_PER_QUOTE)):
                product = self.product_rows[bisect(self.product_cum, rng.random() * self.product_cum[-1])]
                terms.append(
                    (product, LinePrice(QUANTITIES[rng.randint(1, 20)], product[6], rng.choice(DISCOUNTS), DEFAULT_TAX_RATE))
                )
            if fate == "pending_approval":  # only a discount above the threshold waits for a supervisor
                terms[0][1].discount_percent = rng.choice([d for d in DISCOUNTS if d > DISCOUNT_THRESHOLD])
            max_discount = max(line.discount_percent for _, line in terms)
            if fate in ("draft", "pending_approval"):
                first, last = -20, -1
            elif fate in ("approved", "sent"):
                first, last = -QUOTE_VALIDITY_DAYS + 2, -1
            elif fate == "expired":  # the daily job expires it the morning after its last valid day
                first, last = -DEAL_DAYS, -QUOTE_VALIDITY_DAYS - 2
            else:
                first, last = -DEAL_DAYS, -3
            day = rng.randint(max(first, customer.created + 1), last)
            # Drawn up in the morning, so even yesterday's is submitted, approved and sent by midnight.
            created = self.moment(day) + HOURS[rng.randint(0, 4)]
            submitted = approved = sent = responded = expired = None
            if fate != "draft":
                submitted = created + HOURS[rng.randint(1, 4)]
            if fate not in ("draft", "pending_approval"):
                approved = submitted + (HOURS[rng.randint(1, 4)] if max_discount > DISCOUNT_THRESHOLD else timedelta())
                if fate != "approved" and (fate != "expired" or rng.random() < 0.8):
                    sent = approved + HOURS[rng.randint(1, 2)]
            answered = None
            if fate in ("accepted", "rejected"):
                # By the day before yesterday: the contract an accepted one becomes is drawn up a day or more later.
                answered = rng.randint(day + 1, min(day + QUOTE_VALIDITY_DAYS, -2))
                responded = self.moment(answered) + HOURS[rng.randint(0, 8)]
            if fate == "expired":
                expired = self.moment(day + QUOTE_VALIDITY_DAYS + 1)
            updated = expired or responded or sent or approved or submitted or created
            drafts.append(
                (
                    created,
                    day,
                    customer,
                    fate,
                    kind,
                    terms,
                    max_discount,
                    (submitted, approved, sent, responded, expired, updated),
                    answered,
                )
            )
        drafts.sort(key=lambda draft: draft[0])
        quotes, lines, accepted = [], [], []
        for created, day, customer, fate, kind, terms, max_discount, moments, answered in drafts:
            quote_id = self.new_id("quotes")
            priced = []
            for line_no, (product, terms_of_line) in enumerate(terms, start=1):
                amounts = price_line(terms_of_line)
                priced.append(amounts)
                lines.append(
                    (
                        self.new_id("quote_lines"),
                        quote_id,
                        line_no,
                        product[0],
                        None,
                        product[2],
                        product[3],
                        product[5],
                        terms_of_line.quantity,
                        terms_of_line.unit_price,
                        terms_of_line.discount_percent,
                        terms_of_line.tax_rate,
                        amounts.subtotal,
                        amounts.discount,
                        amounts.tax,
                        amounts.total,
                    )
                )
            totals = price_quote(priced)
            submitted, approved, sent, responded, expired, updated = moments
            answered_by = names.person() if responded else None
            quotes.append(
                (
                    quote_id,
                    f"BJ{quote_id:08d}",
                    1,
                    customer.id,
                    None,
                    customer.name,
                    customer.owner_id,
                    rng.choice(words.QUOTE_TITLES).format(kind=kind),
                    rng.choice(words.QUOTE_NOTES),
                    self.day(day + QUOTE_VALIDITY_DAYS),
                    fate,
                    totals.subtotal,
                    totals.discount,
                    totals.tax,
                    totals.total,
                    max_discount,
                    submitted,
                    approved,
                    sent,
                    responded,
                    answered_by,
                    rng.choice(words.REJECTION_NOTES) if fate == "rejected" else None,
                    customer.owner_id if responded else None,
                    expired,
                    None,
                    None,
                    created,
                    updated,
                )
            )
            if fate == "accepted":
                accepted.append((quote_id, customer, answered, totals.total, kind))
        return quotes, lines, accepted

    def contract_drafts(
        self, clients: list[Profile], accepted: list[tuple], count: int, rng: random.Random
    ) -> list[ContractDraft]:
        """A contract for each accepted quote, drawn up a few days after the answer, and the rest of `count` with
        the chunk's customers on their own; numbered in the order drawn up. Signed in the last month: still a
        draft, awaiting approval or active. Before: completed, still active (awaiting its last payments) or
        terminated once its period is over; active or terminated while it runs."""
        drafts = [
            (min(answered + rng.randint(1, 10), -1), customer, quote_id, total, kind)
            for quote_id, customer, answered, total, kind in accepted
        ]
        while len(drafts) < count:
            customer = rng.choice(clients)
            recent = rng.random() < RECENT_CONTRACTS
            day = (
                rng.randint(-RECENT_CONTRACT_DAYS, -1)
                if recent
                else rng.randint(max(-DEAL_DAYS, customer.created + 1), -RECENT_CONTRACT_DAYS - 1)
            )
            drafts.append((day, customer, None, Decimal(rng.randint(20, 5_000) * 1_000), rng.choice(words.PRODUCT_KINDS)))
        drafts.sort(key=lambda draft: draft[0])
        contracts = []
        for day, customer, quote_id, amount, kind in drafts:
            status = None
            if day >= -RECENT_CONTRACT_DAYS:
                status = rng.choice(("draft", "pending_approval", "active", "active"))
            signed = None if status == "draft" else day
            start = day + rng.randint(0, 15)
            end = min(start + rng.choice(CONTRACT_LENGTHS) - 1, PLAN_HORIZON)
            if status is None:
                status = rng.choice(ENDED_CONTRACT_FATES if end < 0 else RUNNING_CONTRACT_FATES)
            created = self.moment(day) + HOURS[rng.randint(0, 4)]
            submitted = None if status == "draft" else created + HOURS[rng.randint(1, 4)]
            activated = submitted + HOURS[rng.randint(1, 4)] if submitted and status != "pending_approval" else None
            contract = ContractDraft(
                self.new_id("contracts"),
                customer,
                quote_id,
                rng.choice(words.CONTRACT_TITLES).format(kind=kind),
                amount,
                status,
                day,
                start,
                end,
                self.day(signed) if signed is not None else None,
                self.day(start),
                self.day(end),
                created,
                submitted,
                activated,
            )
            if status == "terminated":
                contract.closed = rng.randint(min(day + 30, -1), -1)
                contract.closed_at = self.moment(contract.closed) + HOURS[rng.randint(1, 8)]
                contract.termination_reason = rng.choice(words.TERMINATION_REASONS)
            contracts.append(contract)
        return contracts

    def payment_plans(self, contracts: list[ContractDraft], ids: range, rng: random.Random) -> tuple[list, list]:
        """Installments of the contracts that were active, their amounts splitting the contract's, falling due from a
        month after the start to the end; and receipts against them. A completed contract was paid in full before
        it closed; an active one paid most installments due by now (some in part, some not at all, so receivables
        age) and a few ahead; a terminated one some of those due before it ended. The chunk's share of receipts is
        then met exactly: receipts paid in two tranches, or (when over) payments an active contract never got."""
        planned = [contract for contract in contracts if contract.activated_at is not None]
        counts = [1] * len(planned)
        extra = min(self.share(INSTALLMENTS_PER_CUSTOMER, ids) - len(planned), (MAX_INSTALLMENTS - 1) * len(planned))
        while extra > 0:
            n = rng.randrange(len(planned))
            if counts[n] < MAX_INSTALLMENTS:
                counts[n] += 1
                extra -= 1
        plans: list[tuple[ContractDraft, int, int]] = []  # contract, due day, cents
        receipts: list[ReceiptDraft] = []
        for contract, count in zip(planned, counts, strict=True):
            cents = int(contract.amount * 100)
            first = min(contract.start + 30, contract.end)
            for k in range(count):
                due = first + k * (contract.end - first) // (count - 1) if count > 1 else first
                part = cents // count + (cents % count if k == count - 1 else 0)
                paid, day = self.payment(contract, due, rng)
                if paid:
                    share = part if paid == 1.0 else max(1, int(part * paid))
                    receipts.append(ReceiptDraft(len(plans), share, day, contract.day, contract.status != "completed"))
                plans.append((contract, due, part))
        target = self.share(RECEIPTS_PER_CUSTOMER, ids)
        if len(receipts) > target:
            removable = [n for n, receipt in enumerate(receipts) if receipt.removable]
            dropped = set(rng.sample(removable, min(len(receipts) - target, len(removable))))
            receipts = [receipt for n, receipt in enumerate(receipts) if n not in dropped]
        while receipts and len(receipts) < target:
            n = rng.randrange(len(receipts))
            receipt = receipts[n]
            if receipt.cents < 2:
                continue
            tranche = min(max(1, int(receipt.cents * rng.uniform(0.3, 0.7))), receipt.cents - 1)
            receipts[n] = receipt._replace(cents=receipt.cents - tranche)
            receipts.append(receipt._replace(cents=tranche, day=rng.randint(receipt.earliest, receipt.day)))
        collected = [0] * len(plans)
        last_paid: dict[int, int] = {}
        for receipt in receipts:
            collected[receipt.installment] += receipt.cents
            contract = plans[receipt.installment][0]
            last_paid[contract.id] = max(last_paid.get(contract.id, receipt.day), receipt.day)
        for contract in planned:
            if contract.status == "completed":
                contract.closed = min(max(contract.end, last_paid.get(contract.id, contract.day)) + rng.randint(1, 10), -1)
                contract.closed_at = self.moment(contract.closed) + HOURS[rng.randint(1, 8)]
        first_id = self.last_ids["contract_installments"] + 1
        installments = [
            (
                self.new_id("contract_installments"),
                contract.id,
                self.day(due),
                Decimal(cents).scaleb(-2),
                Decimal(paid).scaleb(-2),
                contract.activated_at,
            )
            for (contract, due, cents), paid in zip(plans, collected, strict=True)
        ]
        receipts.sort(key=lambda receipt: (receipt.day, receipt.installment))
        rows = []
        for receipt in receipts:
            contract = plans[receipt.installment][0]
            rows.append(
                (
                    self.new_id("contract_receipts"),
                    first_id + receipt.installment,
                    contract.id,
                    Decimal(receipt.cents).scaleb(-2),
                    self.day(receipt.day),
                    rng.choice(words.RECEIPT_METHODS),
                    contract.customer.owner_id,
                    self.moment(receipt.day) + HOURS[rng.randint(0, 8)],
                )
            )
        return installments, rows

    def payment(self, contract: ContractDraft, due: int, rng: random.Random) -> tuple[float, int]:
        """How much of an installment its contract was paid (0: nothing, 1.0: in full, else that share), and when."""
        fate = rng.random()
        earliest, latest = contract.day, contract.closed if contract.status == "terminated" else -1
        if contract.status == "completed":
            paid = 1.0
        elif contract.status == "terminated":
            paid = 1.0 if due < latest and fate < 0.7 else 0.0
        elif due < 0:
            paid = 1.0 if fate < 0.85 else rng.uniform(0.2, 0.8) if fate < 0.9 else 0.0
        else:  # paid ahead, in part or in full
            paid = 0.0 if fate > 0.05 else 1.0 if fate < 0.02 else rng.uniform(0.2, 0.8)
        day = min(max(due + rng.randint(-10, 30), earliest), latest) if due < 0 else rng.randint(earliest, latest)
        return paid, day

    def invoices(self, contracts: list[ContractDraft], installments: list[tuple], rng: random.Random) -> list[tuple]:
        """Invoices of a few contracts, for what they have collected, in one or two parts."""
        collected: dict[int, Decimal] = defaultdict(Decimal)
        for installment in installments:
            collected[installment[1]] += installment[4]
        rows = []
        for contract in contracts:
            total = collected.get(contract.id)
            if not total or rng.random() >= INVOICED_SHARE:
                continue
            parts = 1 if total < 1 else rng.choice((1, 2))
            first = (total / parts).quantize(Decimal("0.01"))
            kind = rng.choice(("vat_special", "vat_special", "vat_ordinary"))
            for amount in (first, total - first) if parts == 2 else (total,):
                invoice_id = self.new_id("contract_invoices")
                day = rng.randint(contract.day, contract.closed or -1)
                rows.append(
                    (
                        invoice_id,
                        contract.id,
                        kind,
                        f"3100{invoice_id:08d}",
                        amount,
                        self.day(day),
                        contract.customer.owner_id,
                        self.moment(day) + HOURS[rng.randint(0, 8)],
                    )
                )
        return rows


CUSTOMER_REVENUE_BACKFILL = f"""
    INSERT INTO customer_revenue (customer_id, year, order_count, revenue_cents)
    SELECT customer_id, {ALL_YEARS}, count(*), sum(round(total * 100)::bigint) FROM orders
     WHERE status = ANY($1::int[]) GROUP BY customer_id
    UNION ALL
    SELECT customer_id, extract(year FROM order_date)::smallint, count(*), sum(round(total * 100)::bigint) FROM orders
     WHERE status = ANY($1::int[]) GROUP BY customer_id, extract(year FROM order_date)"""


async def _recreate_database(database_url: str) -> None:
    name = make_url(database_url).database
    if not name or not name.startswith("crm_bench"):
        raise SystemExit(f"refusing to drop and recreate {name!r}: bench databases are named crm_bench…")
    connection = await asyncpg.connect(asyncpg_dsn(database_url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def sales_area(cid: int) -> str:
    return f"SA{cid % SALES_AREAS:03d}"


def sales_area_document(cid: int) -> str:
    return json.dumps({SALES_AREA["key"]: sales_area(cid)})


async def _reference_data(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.sessionmaker() as session, session.begin():
            await seed_reference_data(session)
            session.add(CustomFieldDefinition(entity=CustomFieldEntity.CUSTOMER, **SALES_AREA))
    finally:
        await database.dispose()


async def _secondary_indexes(connection: asyncpg.Connection) -> list[tuple[str, str]]:
    """Indexes of the bulk tables that back no constraint: dropped for the load, built again after."""
    rows = await connection.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
           WHERE t.relname = ANY($1::text[])
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        list(BULK_TABLES),
    )
    return [(row["name"], row["definition"]) for row in rows]


# A monthly target for each account manager and each team over the last two years and the current month: what the
# attainment report divides by. Deterministic per holder and month; a team's is its own, not its members' sum.
SALES_TARGETS = """
INSERT INTO sales_targets (month, user_id, team_id, amount, created_at, updated_at)
SELECT month, holder.user_id, holder.team_id,
       (holder.base + abs(hashtext(holder.key || month::text)) % 200000)::numeric(14, 2), now(), now()
FROM (
    SELECT u.id AS user_id, NULL::bigint AS team_id, 'u' || u.id AS key, 300000 AS base
    FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id
    WHERE r.code = 'account_manager'
    UNION ALL
    SELECT NULL, t.id, 't' || t.id, 3000000 FROM teams t
) AS holder
CROSS JOIN generate_series(date_trunc('month', $1::date) - interval '24 months', date_trunc('month', $1::date), interval '1 month')
    AS months(month_start)
CROSS JOIN LATERAL (SELECT month_start::date AS month) AS m
"""


async def generate(database_url: str, data: DataSet, *, quiet: bool = False) -> dict[str, dict[str, float]]:
    """Build the data set from scratch; returns rows, seconds and rows/s per table."""
    say = (lambda *_: None) if quiet else print
    began = time.perf_counter()
    await _recreate_database(database_url)
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
    await _reference_data(database_url)
    say(f"database {make_url(database_url).database} migrated in {time.perf_counter() - began:.1f}s")
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        dictionary: dict[str, list[str]] = {}
        for row in await connection.fetch("SELECT category, value FROM dictionary_items ORDER BY category, sort_order"):
            dictionary.setdefault(row["category"], []).append(row["value"])
        role_ids = dict(await connection.fetch("SELECT code, id FROM roles"))
        indexes = await _secondary_indexes(connection)
        for name, _ in indexes:
            await connection.execute(f"DROP INDEX {name}")
        # Foreign-key triggers off for the load (superuser only): the generator writes consistent keys.
        await connection.execute("SET session_replication_role = replica")
        loader = Loader(connection)
        generator = Generator(data, loader, dictionary, role_ids)
        async with connection.transaction():
            await generator.staff()
            await generator.products()
            await generator.service_desk()
            await generator.customers()
        await connection.execute("SET session_replication_role = DEFAULT")
        started = time.perf_counter()
        await connection.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            await connection.execute(definition)
        say(f"{len(indexes)} indexes built in {time.perf_counter() - started:.1f}s")
        for table in BULK_TABLES:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))"
            )
        # Customers, opportunities, tickets, quotes and contracts created through the API continue after the generated codes.
        await connection.executemany(
            "SELECT setval($1, greatest($2, 1), $2 > 0)",  # none generated: the first code is 1
            [
                (series_sequence(series).name, last)
                for series, last in (
                    ("KH", data.customers),
                    ("JH", generator.last_ids["opportunities"]),
                    ("FW", generator.last_ids["service_tickets"]),
                    ("BJ", generator.last_ids["quotes"]),
                    ("HT", generator.last_ids["contracts"]),
                )
            ],
        )
        started = time.perf_counter()
        # The orders went in with their triggers off: sum them once, as migration 0010 does.
        await connection.execute(CUSTOMER_REVENUE_BACKFILL, list(COMPLETED_ORDER_STATUSES))
        say(f"customer revenue summed in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        targets = await connection.execute(SALES_TARGETS, data.as_of)
        say(f"{targets.split()[-1]} sales targets set in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        # As autovacuum leaves a database in use: statistics, hint bits and visibility maps set, rows frozen. A bulk
        # load without it makes the first reader of every row write it again, and no scan index-only.
        await connection.execute("VACUUM (FREEZE, ANALYZE)")
        say(f"vacuumed and analysed in {time.perf_counter() - started:.1f}s")
        name = make_url(database_url).database
        await connection.execute(f"COMMENT ON DATABASE \"{name}\" IS '{data.describe()}'")
    finally:
        await connection.close()
    report = {
        table: {"rows": rows, "seconds": round(seconds, 2), "rows_per_second": round(rows / seconds) if seconds else 0}
        for table, (rows, seconds) in loader.stats.items()
    }
    say(f"{'table':<26}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
    for table, stat in report.items():
        say(f"{table:<26}{stat['rows']:>12,}{stat['seconds']:>10.1f}{stat['rows_per_second']:>12,}")
    say(f"data set ready in {time.perf_counter() - began:.1f}s: {data.describe()}")
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="bench database (dropped and created again; its name must start with crm_bench)",
    )
    parser.add_argument("--scale", default="small", help=f"{' | '.join(SCALES)} or a number of customers")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="the data set's today (default: today)")
    return parser.parse_args(argv)


def data_set(scale: str, seed: int = DEFAULT_SEED, as_of: date | None = None) -> DataSet:
    return DataSet(customers=customers_for(scale), seed=seed, as_of=as_of or clock.now().date())


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    asyncio.run(generate(args.database_url, data_set(args.scale, args.seed, args.as_of)))


if __name__ == "__main__":
    main()
