"""A deterministic bench data set, bulk-loaded with COPY into a fresh PostgreSQL database.

    python -m bench.generate --scale small          # 20,000 customers, ~100,000 orders
    python -m bench.generate --scale full           # 1,000,000 customers, ~5,000,000 orders
    python -m bench.generate --scale 50000 --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/crm_bench

The same seed and `--as-of` give the same rows. The database is dropped and created again, migrated,
given its reference data, loaded, indexed and analysed; its comment records what it holds, which
is how `bench.run` knows whether it can reuse it.
"""

import argparse
import asyncio
import json
import random
import time
from array import array
from bisect import bisect
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
from crm_api.core.db import Database
from crm_api.core.names import normalize_company_name
from crm_api.core.security import hash_password

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/crm_bench"
SCALES = {"tiny": 300, "small": 20_000, "medium": 200_000, "full": 1_000_000}
DEFAULT_SEED = 20261123
# Bump when the shape of the data changes, so `bench.run` regenerates instead of reusing.
GENERATOR_VERSION = 4
BENCH_PASSWORD = "bench-password-2026"

# Staff: 200 users, supervisors and account managers spread over 20 teams.
TEAM_COUNT = 20
STAFF = (("admin", 2), ("executive", 4), ("marketer", 2), ("sales_supervisor", 20), ("account_manager", 172))
USERNAME_PREFIX = {"admin": "admin", "executive": "exec", "marketer": "mkt", "sales_supervisor": "sup",
                   "account_manager": "am"}

ORDERS_PER_CUSTOMER = 5
MAX_ORDERS_PER_CUSTOMER = 3_000  # the biggest key accounts
# Share of customers that never ordered, and that stopped ordering more than six months ago.
NEVER_ORDERED, DORMANT = 0.15, 0.30
DORMANT_SINCE_DAYS = 200
HISTORY_DAYS = 3 * 365
CUSTOMER_AGE_DAYS = 5 * 365
PRODUCT_COUNT = 2_000
CUSTOMER_CHUNK = 20_000

LEVEL_WEIGHTS = (50, 20, 15, 10, 5)  # regular … strategic partner, in dictionary order
OLD_ORDER_STATUSES = (6,) * 85 + (5,) * 12 + (4,) * 2 + (3,)
RECENT_ORDER_STATUSES = (1, 2, 3, 3, 4, 4, 4, 5, 5, 5)
LINES_PER_ORDER = (1, 1, 2, 2, 2, 3, 3, 4, 5)
INTERACTIONS_PER_CUSTOMER = (0, 0, 1, 1, 2, 2, 3, 4, 5)
BANKS = ("中国工商银行", "中国建设银行", "中国银行", "招商银行", "交通银行", "中国农业银行")
QUANTITIES = [Decimal(n).quantize(Decimal("0.001")) for n in range(21)]


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
        return await connection.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", name
        )
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
    """What a customer's contacts, interactions and orders take from it."""

    id: int
    owner_id: int
    city: str
    address: str
    phone: str
    phone_e164: str
    created: int  # day offset from as_of
    created_at: datetime


class Loader:
    """COPYs rows table by table and keeps rows/seconds per table (generation included)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.stats: dict[str, list[float]] = {}

    async def copy(self, table: str, columns: Sequence[str], rows: Iterable[tuple], started: float) -> None:
        rows = list(rows)
        await self.connection.copy_records_to_table(table, records=rows, columns=list(columns))
        stat = self.stats.setdefault(table, [0, 0.0])
        stat[0] += len(rows)
        stat[1] += time.perf_counter() - started


CUSTOMER_COLUMNS = (
    "id", "code", "external_id", "name", "name_normalized", "region", "owner_id", "level", "industry", "satisfaction", "credit",
    "address", "postal_code", "phone", "phone_e164", "fax", "website", "email", "business_licence_no",
    "legal_representative", "registered_capital", "annual_turnover", "bank", "bank_account", "local_tax_no",
    "national_tax_no", "custom_fields", "status", "churned_at", "created_by_id", "created_at", "updated_at",
    "deleted_at",
)
CONTACT_COLUMNS = (
    "id", "customer_id", "name", "gender", "title", "office_phone", "office_phone_e164", "mobile", "mobile_e164",
    "email", "notes", "marketing_consent", "created_at", "updated_at",
)
INTERACTION_COLUMNS = (
    "id", "customer_id", "occurred_on", "location", "summary", "details", "notes", "created_by_id", "created_at",
    "updated_at",
)
ORDER_COLUMNS = ("id", "external_id", "number", "customer_id", "order_date", "shipping_address", "status", "total",
                 "synced_at")
LINE_COLUMNS = ("id", "order_id", "line_no", "product_id", "product_name", "quantity", "unit", "unit_price")
BULK_TABLES = ("teams", "users", "customers", "contacts", "interactions", "products", "inventory_items", "orders",
               "order_lines")


class Generator:
    def __init__(self, data: DataSet, loader: Loader, dictionary: dict[str, list[str]], role_ids: dict[str, int]):
        self.data, self.loader = data, loader
        self.dictionary, self.role_ids = dictionary, role_ids
        self.regions = [r for r in dictionary["region"] if r in words.REGION_CITIES]
        self.industries = [i for i in dictionary["industry"] if i in words.INDUSTRY_WORDS]
        self.level_cum = list(accumulate(LEVEL_WEIGHTS[: len(dictionary["customer_level"])]))
        # Day offsets from as_of (-CUSTOMER_AGE_DAYS … 0) to dates and to 09:00 UTC on that day.
        first = data.as_of - timedelta(days=CUSTOMER_AGE_DAYS)
        self.days = [first + timedelta(days=n) for n in range(CUSTOMER_AGE_DAYS + 1)]
        self.moments = [datetime(d.year, d.month, d.day, 9, tzinfo=UTC) for d in self.days]
        self.loaded_at = datetime(data.as_of.year, data.as_of.month, data.as_of.day, tzinfo=UTC)
        self.account_managers: list[int] = []
        self.next_order_id = self.next_line_id = self.next_interaction_id = 1

    def rng(self, stream: str) -> random.Random:
        # One stream per table: each table is the same whatever the others draw.
        return random.Random(f"{self.data.seed}:{stream}")

    def day(self, offset: int) -> date:
        return self.days[CUSTOMER_AGE_DAYS + offset]

    def moment(self, offset: int) -> datetime:
        return self.moments[CUSTOMER_AGE_DAYS + offset]

    async def staff(self) -> None:
        started = time.perf_counter()
        names = Names(self.rng("staff"))
        teams = [(n, f"{words.TEAM_AREAS[(n - 1) % len(words.TEAM_AREAS)]}销售{(n - 1) // len(words.TEAM_AREAS) + 1}部",
                  None, self.loaded_at, self.loaded_at) for n in range(1, TEAM_COUNT + 1)]
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
                users.append((user_id, login, names.person(), f"{login}@bench.example.cn", password, True, team_id,
                              None, self.loaded_at, self.loaded_at))
                grants.append((user_id, self.role_ids[role]))
                if role == "account_manager":
                    self.account_managers.append(user_id)
        columns = ("id", "username", "full_name", "email", "password_hash", "active", "team_id",
                   "tokens_valid_after", "created_at", "updated_at")
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
            self.product_rows.append((pid, f"P{pid:06d}", f"{series}型{kind}", f"{series}-{rng.randint(1, 99):02d}",
                                      f"B{rng.randint(2023, 2026)}{rng.randint(1, 999):03d}",
                                      rng.choice(words.PRODUCT_UNITS), price, self.loaded_at))
        # Popularity falls with rank (Zipf-like): a few products are on most orders.
        self.product_cum = list(accumulate(1 / (rank + 1) ** 0.8 for rank in range(PRODUCT_COUNT)))
        columns = ("id", "external_id", "name", "model", "batch", "unit", "price", "synced_at")
        await self.loader.copy("products", columns, self.product_rows, started)
        started = time.perf_counter()
        stock, item_id = [], 0
        for pid in range(1, PRODUCT_COUNT + 1):
            for warehouse in rng.sample(words.WAREHOUSES, rng.randint(1, 3)):
                item_id += 1
                stock.append((item_id, f"INV{item_id:07d}", pid, warehouse,
                              f"{rng.choice('ABCDEF')}-{rng.randint(1, 40):02d}", rng.randint(0, 5_000),
                              self.loaded_at))
        columns = ("id", "external_id", "product_id", "warehouse", "location", "quantity", "synced_at")
        await self.loader.copy("inventory_items", columns, stock, started)

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
        rngs = {name: self.rng(name) for name in ("customers", "contacts", "interactions", "orders")}
        names = {name: Names(rng) for name, rng in rngs.items()}
        for first in range(1, self.data.customers + 1, CUSTOMER_CHUNK):
            ids = range(first, min(first + CUSTOMER_CHUNK, self.data.customers + 1))
            started = time.perf_counter()
            customers = [self.customer(cid, rngs["customers"], names["customers"]) for cid in ids]
            await self.loader.copy("customers", CUSTOMER_COLUMNS, (row for row, _ in customers), started)
            profiles = [profile for _, profile in customers]
            started = time.perf_counter()
            contacts = [self.contact(c, n, rngs["contacts"], names["contacts"]) for c in profiles for n in (0, 1)]
            await self.loader.copy("contacts", CONTACT_COLUMNS, contacts, started)
            started = time.perf_counter()
            interactions = [row for c in profiles for row in self.interactions(c, rngs["interactions"])]
            await self.loader.copy("interactions", INTERACTION_COLUMNS, interactions, started)
            started = time.perf_counter()
            orders, lines = self.orders(profiles, counts, rngs["orders"])
            await self.loader.copy("orders", ORDER_COLUMNS, orders, started)
            await self.loader.copy("order_lines", LINE_COLUMNS, lines, time.perf_counter())

    def created_offset(self, cid: int) -> int:
        """Day the customer was created: ids follow creation over the last five years."""
        return -CUSTOMER_AGE_DAYS + (cid - 1) * (CUSTOMER_AGE_DAYS - 1) // self.data.customers

    def customer(self, cid: int, rng: random.Random, names: Names) -> tuple[tuple, Profile]:
        region = rng.choice(self.regions)
        city, area = rng.choice(words.REGION_CITIES[region])
        industry = rng.choice(self.industries)
        level = self.dictionary["customer_level"][bisect(self.level_cum, rng.random() * self.level_cum[-1])]
        owner = self.account_managers[(cid - 1) % len(self.account_managers)]
        phone, phone_e164 = names.landline(area)
        created = self.created_offset(cid)
        churned = rng.random() < 0.02
        deleted = rng.random() < 0.005
        licence = f"91{int(area):04d}{cid:012d}"
        code = f"KH{cid:08d}"
        address = names.address(city)
        name = names.company(city, industry)
        row = (
            cid, code, f"ERP-C{cid:08d}" if rng.random() < 0.8 else None, name, normalize_company_name(name), region,
            owner, level, industry, rng.randint(1, 5), rng.randint(1, 5), address,
            f"{rng.randint(100_000, 850_000)}", phone, phone_e164, phone if rng.random() < 0.3 else None,
            f"https://www.{code.lower()}.example.cn", f"info@{code.lower()}.example.cn", licence, names.person(),
            Decimal(rng.randint(10, 50_000) * 10_000), Decimal(rng.randint(50, 500_000) * 10_000),
            rng.choice(BANKS), f"6222{cid:012d}", licence, licence, "{}",
            "churned" if churned else "active", self.moment(-rng.randint(1, 180)) if churned else None,
            owner, self.moment(created), self.moment(created), self.moment(-rng.randint(1, 90)) if deleted else None,
        )
        return row, Profile(cid, owner, city, address, phone, phone_e164, created, self.moment(created))

    def contact(self, customer: Profile, number: int, rng: random.Random, names: Names) -> tuple:
        contact_id = (customer.id - 1) * 2 + number + 1
        mobile, mobile_e164 = names.mobile()
        return (
            contact_id, customer.id, names.person(), rng.choice(("male", "female")), rng.choice(words.CONTACT_TITLES),
            customer.phone, customer.phone_e164, mobile, mobile_e164, f"contact{contact_id}@bench.example.cn", None,
            rng.random() < 0.4, customer.created_at, customer.created_at,
        )

    def interactions(self, customer: Profile, rng: random.Random) -> list[tuple]:
        rows = []
        for _ in range(rng.choice(INTERACTIONS_PER_CUSTOMER)):
            offset = rng.randint(max(customer.created, -HISTORY_DAYS), 0)
            summary = rng.choice(words.INTERACTION_SUMMARIES)
            rows.append((
                self.next_interaction_id, customer.id, self.day(offset),
                f"{customer.city}{rng.choice(words.INTERACTION_PLACES)}", summary,
                f"{summary}：{rng.choice(words.INTERACTION_OUTCOMES)}", None, customer.owner_id,
                self.moment(offset), self.moment(offset),
            ))
            self.next_interaction_id += 1
        return rows

    def orders(self, profiles: list[Profile], counts: array, rng: random.Random) -> tuple[list, list]:
        """One chunk's orders, dated and numbered in date order so a customer's orders scatter over the table."""
        drafts = []
        for customer in profiles:
            count = counts[customer.id - 1]
            last = -DORMANT_SINCE_DAYS if count < 0 else 0
            start = max(customer.created, -HISTORY_DAYS)
            if start > last:
                continue
            for _ in range(abs(count)):
                offset = rng.randint(start, last)
                statuses = RECENT_ORDER_STATUSES if offset > -15 else OLD_ORDER_STATUSES
                drafts.append((offset, customer.id, customer.address, rng.choice(statuses), rng.choice(LINES_PER_ORDER)))
        drafts.sort(key=lambda draft: draft[0])
        orders, lines = [], []
        for offset, customer_id, address, status, line_count in drafts:
            order_id, total_cents = self.next_order_id, 0
            for line_no in range(1, line_count + 1):
                product = self.product_rows[bisect(self.product_cum, rng.random() * self.product_cum[-1])]
                quantity = int(rng.random() * 20) + 1
                total_cents += quantity * int(product[6] * 100)
                lines.append((self.next_line_id, order_id, line_no, product[0], product[2], QUANTITIES[quantity],
                              product[5], product[6]))
                self.next_line_id += 1
            day = self.day(offset)
            orders.append((order_id, f"ERP-O{order_id:09d}", f"SO{day:%Y%m%d}{order_id:09d}", customer_id, day,
                           address, status, Decimal(total_cents).scaleb(-2), self.loaded_at))
            self.next_order_id += 1
        return orders, lines


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


async def _reference_data(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.sessionmaker() as session, session.begin():
            await seed_reference_data(session)
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
        # New customers created through the API continue after the generated codes.
        await connection.execute(
            """INSERT INTO code_counters (series, last_value) VALUES ('KH', $1)
               ON CONFLICT (series) DO UPDATE SET last_value = EXCLUDED.last_value""",
            data.customers,
        )
        started = time.perf_counter()
        await connection.execute("ANALYZE")
        say(f"analysed in {time.perf_counter() - started:.1f}s")
        name = make_url(database_url).database
        await connection.execute(f"COMMENT ON DATABASE \"{name}\" IS '{data.describe()}'")
    finally:
        await connection.close()
    report = {table: {"rows": rows, "seconds": round(seconds, 2), "rows_per_second": round(rows / seconds) if seconds else 0}
              for table, (rows, seconds) in loader.stats.items()}
    say(f"{'table':<16}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
    for table, stat in report.items():
        say(f"{table:<16}{stat['rows']:>12,}{stat['seconds']:>10.1f}{stat['rows_per_second']:>12,}")
    say(f"data set ready in {time.perf_counter() - began:.1f}s: {data.describe()}")
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL,
                        help="bench database (dropped and created again; its name must start with crm_bench)")
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
