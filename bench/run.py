"""`make bench`: the data set (generated unless present), the service under load, and the raw ceiling.

    python -m bench.run --scale small --duration 5
    BENCH_SCALE=full python -m bench.run

Starts `uvicorn crm_api.main:create_app --factory --workers 2` on 127.0.0.1 with production settings
against the bench database, drives every scenario the server offers from 32 concurrent clients for a
fixed time, times the source reports, the scheduled jobs and a customer import once each, then runs the
same SQL for the key reads straight through asyncpg. Writes
bench/results/<date>-<commit>.json and prints a Markdown table. The server is stopped on every exit path.
"""

import argparse
import asyncio
import ctypes
import json
import os
import platform
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
import uvloop
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench import wrk
from bench.generate import (
    BENCH_PASSWORD,
    DEFAULT_DATABASE_URL,
    asyncpg_dsn,
    customers_for,
    data_set,
    describe_existing,
    generate,
)
from bench.load import Call, Measurement, MemorySampler, RetryLater, drive
from bench.scenarios import (
    ACCOUNT_MANAGER,
    ADMIN,
    BENCH_MARK,
    EXECUTIVE,
    IMPORT_ROUTE,
    IMPORTER,
    PAGE_SIZE,
    SCENARIOS,
    SIGN_IN_STORM,
    SYNC_ROUTE,
    TIMED_JOBS,
    TIMED_REPORTS,
    TIMED_SYNCS,
    Fixtures,
    RawQuery,
    Scenario,
    SignInStorm,
    TimedImport,
    TimedJob,
    TimedReport,
    TimedSync,
    edit_own_customers,
    load_fixtures,
    sync_all,
    timed_import,
)
from crm_api.core.clock import clock
from crm_api.core.db import POSTGRESQL_SERVER_SETTINGS
from crm_api.custom_fields.service import index_fields

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
READY_TIMEOUT = 60.0
REQUEST_TIMEOUT = 10.0
SIGN_IN_TIMEOUT = 120.0
JOB_TIMEOUT = 600.0


def _die_with_parent() -> None:
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def running_server(database_url: str, *, workers: int) -> Iterator[tuple[str, int]]:
    """The service in production mode on a free local port: yields (base url, master pid), then stops it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {
        "CRM_ENV": "prod",
        "CRM_DATABASE_URL": database_url,
        "CRM_SECRET_KEY": secrets.token_urlsafe(48),
        "CRM_LOG_LEVEL": "WARNING",
        "CRM_SCHEDULER_ENABLED": "false",
        "CRM_PUBLIC_DOCS": "true",  # the bench reads the served routes from /openapi.json
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "crm_api.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    # A session of its own, so the whole process group (master and workers) can be stopped at once;
    # and a parent-death signal, so even a bench killed outright does not leave the server behind.
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True, preexec_fn=_die_with_parent)
    try:
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


async def wait_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if (await client.get("/health/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.25)
    raise SystemExit(f"the service was not ready within {READY_TIMEOUT:.0f}s")


async def served_routes(client: httpx.AsyncClient) -> set[tuple[str, str]]:
    """(method, path template with `{}` for every parameter) of each route in the server's OpenAPI.

    Asked of the contract rather than by probing: a 404 from `GET /customers/{id}` is also a real answer.
    """
    paths = (await client.get("/openapi.json")).raise_for_status().json()["paths"]
    return {(method.upper(), re.sub(r"\{[^}]*\}", "{}", path)) for path, item in paths.items() for method in item}


async def sign_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    # Generous: after the login scenario the server still drains the sign-ins its clients gave up on.
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": BENCH_PASSWORD}, timeout=SIGN_IN_TIMEOUT
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def http_call(client: aiohttp.ClientSession, scenario: Scenario, headers: dict[str, str], fixtures: Fixtures) -> Call:
    async def call(rng: random.Random) -> bool | str:
        path, params, body = scenario.request(rng, fixtures)
        async with client.request(scenario.method, path, params=params, json=body, headers=headers) as response:
            content = await response.read()  # not always text: a PDF
        return response.status in scenario.expect or f"{response.status} {content[:200].decode(errors='replace')}"

    return call


def raw_call(pool: asyncpg.Pool, query: RawQuery, fixtures: Fixtures) -> Call:
    (sql, positional), older = query.compiled()

    async def call(rng: random.Random) -> bool | str:
        arguments = query.arguments(rng, fixtures)
        async with pool.acquire() as connection:  # the service reads a page's two statements on one connection too
            rows = await connection.fetch(sql, *positional(arguments))
            if older is not None and len(rows) <= PAGE_SIZE:
                older_sql, older_positional = older
                await connection.fetch(older_sql, *older_positional(arguments))
        return True

    return call


async def measure_service(args: argparse.Namespace, fixtures: Fixtures, scenarios: list[Scenario]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with running_server(args.database_url, workers=args.workers) as (base_url, master_pid):
        limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
        # The load itself goes through aiohttp: it costs the shared cores a fraction of what httpx does
        # per request, so more of them are left to the service being measured.
        load_connections = aiohttp.TCPConnector(limit=args.concurrency)
        async with (
            httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT) as client,
            aiohttp.ClientSession(
                base_url, connector=load_connections, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
            ) as load_client,
        ):
            await wait_ready(client)
            routes = await served_routes(client)
            sessions: dict[str | None, dict[str, str]] = {None: {}}
            sampler = MemorySampler(master_pid)
            sampler.start()
            try:
                for scenario in scenarios:
                    if (scenario.method, scenario.route) not in routes:
                        print(f"  {scenario.name:<42} not available ({scenario.method} {scenario.route} is not served yet)")
                        results.append({"name": scenario.name, "available": False})
                        continue
                    if scenario.actor not in sessions:
                        sessions[scenario.actor] = await sign_in(client, scenario.actor)
                    headers = sessions[scenario.actor]
                    if scenario.prepare is not None:
                        await scenario.prepare(client, headers, fixtures)
                    sampler.window()
                    concurrency = min(scenario.clients or args.concurrency, args.concurrency)
                    if args.load_client == "wrk":
                        measured = await asyncio.to_thread(
                            wrk.drive,
                            scenario,
                            fixtures,
                            base_url,
                            headers,
                            concurrency=concurrency,
                            seconds=args.duration,
                            timeout=REQUEST_TIMEOUT,
                        )
                    else:
                        measured = await drive(
                            scenario.name,
                            http_call(load_client, scenario, headers, fixtures),
                            concurrency=concurrency,
                            seconds=args.duration,
                        )
                    target = {"limit_p95_ms": scenario.p95_limit_ms} if scenario.p95_limit_ms else {}
                    results.append({"available": True} | measured.summary() | sampler.window() | target)
                    print(f"  {_line(measured)}  rss/worker {results[-1]['peak_worker_mib']} MiB{_target(results[-1])}")
                reports = tuple(report for report in TIMED_REPORTS if _selected(report.name, args.only))
                if reports:
                    results += await run_timed_reports(client, await sign_in(client, EXECUTIVE), sampler, reports, routes)
                jobs = tuple(job for job in TIMED_JOBS if _selected(job.name, args.only))
                if jobs:
                    results += await run_timed_jobs(client, await sign_in(client, ADMIN), sampler, jobs)
                syncs = tuple(timed for timed in TIMED_SYNCS if _selected(timed.name, args.only))
                if syncs:
                    results += await run_timed_syncs(client, sampler, syncs, routes, fixtures)
                importing = timed_import(customers_for(args.scale), args.import_rows)
                if _selected(importing.name, args.only):
                    results.append(await run_timed_import(client, sampler, importing, routes, args.database_url))
                if _selected(SIGN_IN_STORM.name, args.only):
                    storm = await run_sign_in_storm(client, base_url, sampler, SIGN_IN_STORM, fixtures, args.storm_seconds)
                    results.append(storm)
            finally:
                await sampler.stop()
    return results


async def run_sign_in_storm(
    client: httpx.AsyncClient,
    base_url: str,
    sampler: MemorySampler,
    storm: SignInStorm,
    fixtures: Fixtures,
    seconds: float,
) -> dict[str, Any]:
    """The reads alone for `seconds`, then the same reads for `seconds` while `storm.sign_ins` clients sign in."""
    reads = next(scenario for scenario in SCENARIOS if scenario.name == storm.reads)
    headers = await sign_in(client, str(reads.actor))
    usernames = storm.usernames()
    answers: Counter[str] = Counter()
    connections = aiohttp.TCPConnector(limit=storm.sign_ins + storm.readers)
    async with aiohttp.ClientSession(
        base_url, connector=connections, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    ) as session:
        read = http_call(session, reads, headers, fixtures)

        async def sign_in_once(rng: random.Random) -> bool | str | RetryLater:
            body = {"username": rng.choice(usernames), "password": BENCH_PASSWORD}
            async with session.post("/api/v1/auth/login", json=body) as response:
                answer = str(response.status)
                if response.status != 200:
                    answer += f" {(await response.json(content_type=None)).get('code')}"
            answers[answer] += 1
            if answer == "429 auth.busy":
                return RetryLater(float(response.headers["Retry-After"]))
            return answer == "200" or answer

        alone = await drive(f"{storm.name}: reads alone", read, concurrency=storm.readers, seconds=seconds)
        print(f"  {_line(alone)}")
        sampler.window()
        signing_in, during = await asyncio.gather(
            drive(f"{storm.name}: sign-ins", sign_in_once, concurrency=storm.sign_ins, seconds=seconds),
            drive(f"{storm.name}: reads during", read, concurrency=storm.readers, seconds=seconds, seed=2),
        )
    peaks = sampler.window()
    slowest = max(signing_in.latencies_ms, default=0.0) / 1000
    slowdown = during.percentile(95) / alone.percentile(95) if alone.percentile(95) else 0.0
    for measured in (signing_in, during):
        print(f"  {_line(measured)}")
    print(
        f"  {storm.name:<42} slowest sign-in {slowest:.2f} s (target < {storm.answer_seconds:g} s), read p95 "
        f"x{slowdown:.2f} (target < x{storm.read_slowdown:g}), answers {dict(answers)}  rss/worker {peaks['peak_worker_mib']} MiB"
    )
    return {
        "name": storm.name,
        "kind": "storm",
        "available": True,
        "seconds": seconds,
        "sign_in_clients": storm.sign_ins,
        "read_clients": storm.readers,
        "sign_ins": signing_in.summary() | {"slowest_s": round(slowest, 2), "answers": dict(answers)},
        "reads_alone": alone.summary(),
        "reads_during": during.summary(),
        "read_p95_slowdown": round(slowdown, 2),
        "limit_answer_seconds": storm.answer_seconds,
        "limit_read_slowdown": storm.read_slowdown,
    } | peaks


async def run_timed_reports(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sampler: MemorySampler,
    reports: tuple[TimedReport, ...],
    routes: set[tuple[str, str]],
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for timed in reports:
        if ("GET", timed.path) not in routes:
            print(f"  {timed.name:<42} not available (GET {timed.path} is not served yet)")
            results.append({"name": timed.name, "kind": "job", "available": False, "limit_seconds": timed.limit_seconds})
            continue
        sampler.window()
        started = time.perf_counter()
        response = await client.get(timed.path, params=timed.params, headers=headers, timeout=JOB_TIMEOUT)
        seconds = time.perf_counter() - started
        outcome = f"{len(response.content):,} bytes" if response.status_code == 200 else f"HTTP {response.status_code}"
        results.append(
            {
                "name": timed.name,
                "kind": "job",
                "available": True,
                "seconds": round(seconds, 2),
                "outcome": outcome,
                "limit_seconds": timed.limit_seconds,
            }
            | sampler.window()
        )
        print(f"  {timed.name:<42} {seconds:8.2f} s  {outcome}  (target < {timed.limit_seconds:g} s)")
    return results


async def run_timed_syncs(
    client: httpx.AsyncClient,
    sampler: MemorySampler,
    syncs: tuple[TimedSync, ...],
    routes: set[tuple[str, str]],
    fixtures: Fixtures,
) -> list[dict[str, Any]]:
    """Each sync in turn as the account manager; one after changes goes on from the token the one before left."""
    results: list[dict[str, Any]] = []
    if ("GET", SYNC_ROUTE) not in routes:
        for timed in syncs:
            print(f"  {timed.name:<42} not available (GET {SYNC_ROUTE} is not served yet)")
            results.append({"name": timed.name, "kind": "job", "available": False, "limit_seconds": timed.limit_seconds})
        return results
    headers = await sign_in(client, ACCOUNT_MANAGER)
    token: str | None = None
    for timed in syncs:
        if timed.changes:
            if token is None:
                token, _, _ = await sync_all(client, headers, None)
            await edit_own_customers(client, headers, fixtures, timed.changes)
        sampler.window()
        started = time.perf_counter()
        token, records, pages = await sync_all(client, headers, token if timed.changes else None)
        seconds = time.perf_counter() - started
        outcome = f"{records:,} records in {pages} pages"
        results.append(
            {
                "name": timed.name,
                "kind": "job",
                "available": True,
                "seconds": round(seconds, 3),
                "outcome": outcome,
                "limit_seconds": timed.limit_seconds,
            }
            | sampler.window()
        )
        print(f"  {timed.name:<42} {seconds:8.3f} s  {outcome}  (target < {timed.limit_seconds:g} s)")
    return results


async def run_timed_jobs(
    client: httpx.AsyncClient, headers: dict[str, str], sampler: MemorySampler, jobs: tuple[TimedJob, ...] = TIMED_JOBS
) -> list[dict[str, Any]]:
    registered = [job["name"] for job in (await client.get("/api/v1/jobs", headers=headers)).raise_for_status().json()]
    results: list[dict[str, Any]] = []
    for timed in jobs:
        job = next((name for name in registered if timed.job_contains in name), None)
        if job is None:
            print(f"  {timed.name:<42} not available (no job named like '{timed.job_contains}' is registered yet)")
            results.append({"name": timed.name, "kind": "job", "available": False, "limit_seconds": timed.limit_seconds})
            continue
        sampler.window()
        started = time.perf_counter()
        response = await client.post(f"/api/v1/jobs/{job}/run", headers=headers, timeout=JOB_TIMEOUT)
        seconds = time.perf_counter() - started
        outcome = response.json().get("outcome") if response.status_code == 200 else f"HTTP {response.status_code}"
        results.append(
            {
                "name": timed.name,
                "kind": "job",
                "available": True,
                "job": job,
                "seconds": round(seconds, 2),
                "outcome": outcome,
                "limit_seconds": timed.limit_seconds,
            }
            | sampler.window()
        )
        print(f"  {timed.name:<42} {seconds:8.2f} s  outcome {outcome}  (target < {timed.limit_seconds:g} s)")
    return results


async def run_timed_import(
    client: httpx.AsyncClient,
    sampler: MemorySampler,
    timed: TimedImport,
    routes: set[tuple[str, str]],
    database_url: str,
) -> dict[str, Any]:
    """Upload the file once, time the answer, check its counts, then delete the imported customers again."""
    result = {"name": timed.name, "kind": "job", "rows": timed.rows, "limit_seconds": timed.limit_seconds}
    if ("POST", IMPORT_ROUTE) not in routes:
        print(f"  {timed.name:<42} not available (POST {IMPORT_ROUTE} is not served yet)")
        return result | {"available": False}
    headers = await sign_in(client, IMPORTER)
    body = timed.csv(batch=secrets.token_hex(3))
    sampler.window()
    started = time.perf_counter()
    response = await client.post(
        IMPORT_ROUTE,
        data={"entity": "customers", "mode": "valid_rows_only"},
        headers=headers,
        files={"file": ("customers.csv", body, "text/csv")},
        timeout=JOB_TIMEOUT,
    )
    finished = await _finished_import(client, headers, response, started)
    seconds = time.perf_counter() - started
    peaks = sampler.window()
    outcome = timed.outcome(finished) if finished else f"HTTP {response.status_code} {response.text[:200]}"
    removed = await remove_written_customers(database_url)
    print(
        f"  {timed.name:<42} {seconds:8.2f} s  {outcome}  (target < {timed.limit_seconds:g} s; "
        f"{removed:,} customers the run wrote removed again)  rss/worker {peaks['peak_worker_mib']} MiB"
    )
    return result | {"available": True, "seconds": round(seconds, 2), "outcome": outcome} | peaks


async def _finished_import(
    client: httpx.AsyncClient, headers: dict[str, str], response: httpx.Response, started: float
) -> dict[str, Any] | None:
    """The import once done: answered at once (201), or followed at its Location until it ends (202)."""
    if response.status_code == 201:
        return dict(response.json())
    if response.status_code != 202:
        return None
    while time.perf_counter() - started < JOB_TIMEOUT:
        body = (await client.get(response.headers["Location"], headers=headers)).raise_for_status().json()
        if body["status"] in ("succeeded", "failed"):
            return dict(body)
        await asyncio.sleep(0.5)
    return None


async def remove_written_customers(database_url: str) -> int:
    """Delete the customers the bench wrote, imported or created (this run's, or a killed run's): a reused data set
    stays as generated."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        # Such a customer has nothing that refers to it yet but its own tags and ownership history, deleted
        # first. Without the foreign-key triggers the delete does not search every referencing table for each row
        # (opportunities.customer_id has no index to search with).
        await connection.execute("SET session_replication_role = replica")
        imported = "SELECT id FROM customers WHERE owner_id = (SELECT id FROM users WHERE username = $1) AND name LIKE $2"
        for table in ("customer_tags", "customer_ownership_changes"):
            await connection.execute(f"DELETE FROM {table} WHERE customer_id IN ({imported})", IMPORTER, f"{BENCH_MARK}%")
        status = await connection.execute(f"DELETE FROM customers WHERE id IN ({imported})", IMPORTER, f"{BENCH_MARK}%")
        removed = int(status.split()[-1])
        if removed:
            # They had the newest ids, where the customer list starts: no dead rows left there to step over, nor in
            # the tables the next run writes beside them.
            for table in ("customers", "customer_tags", "customer_ownership_changes"):
                await connection.execute(f"VACUUM (ANALYZE) {table}")
        return removed
    finally:
        await connection.close()


async def measure_raw(args: argparse.Namespace, fixtures: Fixtures, scenarios: list[Scenario]) -> list[dict[str, Any]]:
    results = []
    pool = await asyncpg.create_pool(
        asyncpg_dsn(args.database_url),
        min_size=args.concurrency,
        max_size=args.concurrency,
        server_settings=POSTGRESQL_SERVER_SETTINGS,
    )  # as the service's connections
    try:
        for scenario in scenarios:
            if scenario.raw is None:
                continue
            measured = await drive(
                f"raw: {scenario.name}",
                raw_call(pool, scenario.raw, fixtures),
                concurrency=args.concurrency,
                seconds=args.duration,
            )
            results.append({"scenario": scenario.name} | measured.summary())
            print(f"  {_line(measured)}")
    finally:
        await pool.close()
    return results


def _selected(name: str, only: list[str]) -> bool:
    return not only or any(part in name for part in only)


def _line(measured: Measurement) -> str:
    line = (
        f"{measured.name:<42} {measured.per_second:>8.1f} req/s  p50 {measured.percentile(50):6.1f}  "
        f"p95 {measured.percentile(95):6.1f}  p99 {measured.percentile(99):6.1f} ms  errors {measured.errors}"
    )
    return line + (f" (first: {measured.first_error})" if measured.first_error else "")


def _target(row: dict[str, Any]) -> str:
    return f" (target p95 < {row['limit_p95_ms']:g} ms)" if row.get("limit_p95_ms") else ""


def markdown(service: list[dict[str, Any]], raw: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | req/s | p50 ms | p95 ms | p99 ms | errors | peak RSS/worker MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    jobs = [row for row in service if row.get("kind") == "job"]
    storms = [row for row in service if row.get("kind") == "storm"]
    for row in service:
        if row.get("kind") in ("job", "storm"):
            continue
        if not row["available"]:
            lines.append(f"| {row['name']} | not available | | | | | |")
            continue
        lines.append(
            f"| {row['name']}{_target(row)} | {row['requests_per_second']:.1f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} "
            f"| {row['p99_ms']:.1f} | {row['errors']} | {row['peak_worker_mib']:.0f} |"
        )
    if jobs:
        lines += ["", "| run once | seconds | outcome | target |", "|---|---:|---|---:|"]
        for row in jobs:
            measured = f"{row['seconds']:.2f} | {row['outcome']}" if row["available"] else "not available | "
            lines.append(f"| {row['name']} | {measured} | < {row['limit_seconds']:g} s |")
    if storms:
        lines += [
            "",
            "| storm | sign-ins/s | slowest sign-in s | answers | read p95 alone ms | read p95 during ms | slowdown |",
            "|---|---:|---:|---|---:|---:|---:|",
        ]
        for row in storms:
            lines.append(
                f"| {row['name']} ({row['sign_in_clients']} clients, {row['seconds']:g} s) "
                f"| {row['sign_ins']['requests_per_second']:.1f} | {row['sign_ins']['slowest_s']:.2f} "
                f"(< {row['limit_answer_seconds']:g}) | {row['sign_ins']['answers']} | {row['reads_alone']['p95_ms']:.1f} "
                f"| {row['reads_during']['p95_ms']:.1f} | x{row['read_p95_slowdown']:.2f} (< x{row['limit_read_slowdown']:g}) |"
            )
    if raw:
        by_name = {row["name"]: row for row in service if row["available"] and row.get("kind") != "storm"}
        lines += [
            "",
            "| raw asyncpg, same SQL | raw req/s | raw p95 ms | service req/s | service/raw |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in raw:
            served = by_name.get(row["scenario"])
            ratio = f"{served['requests_per_second'] / row['requests_per_second']:.0%}" if served else "n/a"
            service_rps = f"{served['requests_per_second']:.1f}" if served else "not available"
            lines.append(
                f"| {row['scenario']} | {row['requests_per_second']:.1f} | {row['p95_ms']:.1f} | {service_rps} | {ratio} |"
            )
    return "\n".join(lines)


def current_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def _machine(database_url: str) -> dict[str, Any]:
    meminfo = (await asyncio.to_thread(Path("/proc/meminfo").read_text)).split("\n", 1)[0].split()
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        postgres = await connection.fetchval("SHOW server_version")
        shared_buffers = await connection.fetchval("SHOW shared_buffers")
    finally:
        await connection.close()
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(int(meminfo[1]) / 1024**2, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
        "postgresql": postgres,
        "shared_buffers": shared_buffers,
    }


async def ensure_data_set(args: argparse.Namespace) -> tuple[str, dict[str, Any] | None]:
    """The data set's description, generating it first unless the database already holds this scale."""
    wanted = data_set(args.scale)
    existing = await describe_existing(args.database_url)
    if not args.regenerate and existing:
        held = json.loads(existing)
        same = ("customers", "seed", "version", "schema")
        if all(held.get(key) == getattr(wanted, key) for key in same):
            print(f"reusing the data set in {args.database_url.rsplit('/', 1)[-1]}: {existing}")
            if removed := await remove_written_customers(args.database_url):
                print(f"removed {removed:,} customers an interrupted run wrote")
            return existing, None
        if held.get("customers", 0) > wanted.customers:
            # A full-scale data set takes minutes to build: a scale left out (small by default) does not replace it.
            raise SystemExit(
                f"{make_url(args.database_url).database} holds a data set of {held['customers']:,} customers: ask for"
                f" its scale (BENCH_SCALE), or pass --regenerate to replace it with {wanted.customers:,}"
            )
    report = await generate(args.database_url, wanted)
    return wanted.describe(), report


async def warm_cache(database_url: str) -> int | None:
    """Reads every table and index of the data set into the page cache (pg_prewarm's `read` mode), so the first
    scenarios after generating it, or after a restart, measure a warm database as the later ones do, not the disk.
    The blocks read; None without pg_prewarm."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        if not await connection.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_prewarm'"):
            print("pg_prewarm is not installed: the first scenarios may read from disk")
            return None
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        started = time.perf_counter()
        blocks: int = await connection.fetchval(
            """SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_class c
               WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i', 'm')"""
        )
        print(
            f"read {blocks * 8 / 1024:,.0f} MiB of tables and indexes into the page cache in {time.perf_counter() - started:.1f}s"
        )
        return blocks
    finally:
        await connection.close()


async def vacuum(database_url: str) -> None:
    """Vacuums and analyses the data set as autovacuum keeps a database in use. Where the server runs without it, the
    rows earlier runs wrote and deleted (interactions, events, warnings, imports) would pile up run after run."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        started = time.perf_counter()
        await connection.execute("VACUUM (ANALYZE)")
        print(f"vacuumed and analysed in {time.perf_counter() - started:.1f}s")
    finally:
        await connection.close()


async def index_custom_fields(database_url: str) -> None:
    """The custom fields' indexes, as a server running the scheduler builds them at start (the bench's runs none)."""
    engine = create_async_engine(database_url)
    try:
        await index_fields(engine)
    finally:
        await engine.dispose()


async def bench(args: argparse.Namespace) -> Path:
    # Anything else running on the machine (test suites…) shows here and skews every number.
    load_before = os.getloadavg()[0]
    described, generation = await ensure_data_set(args)
    await index_custom_fields(args.database_url)
    await vacuum(args.database_url)
    await warm_cache(args.database_url)
    connection = await asyncpg.connect(asyncpg_dsn(args.database_url))
    try:
        fixtures = await load_fixtures(connection)
    finally:
        await connection.close()
    scenarios = [scenario for scenario in SCENARIOS if _selected(scenario.name, args.only)]
    print(f"service: {args.workers} workers, {args.concurrency} clients ({args.load_client}), {args.duration:g}s per scenario")
    service = await measure_service(args, fixtures, scenarios)
    print("raw ceiling: the same SQL through asyncpg")
    raw = await measure_raw(args, fixtures, scenarios)
    commit = current_commit()
    result = {
        "date": clock.now().isoformat(timespec="seconds"),
        "commit": commit,
        "machine": await _machine(args.database_url) | {"load_average_1m_before": round(load_before, 2)},
        "data_set": json.loads(described),
        "generation": generation,
        "settings": {
            "workers": args.workers,
            "concurrency": args.concurrency,
            "seconds_per_scenario": args.duration,
            "load_client": args.load_client,
        },
        "scenarios": service,
        "raw": raw,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"{clock.now():%Y-%m-%d}-{commit}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print()
    print(markdown(service, raw))
    print(f"\nresults: {path}")
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument(
        "--scale", default=os.environ.get("BENCH_SCALE", "small"), help="tiny | small | medium | full or a number of customers"
    )
    parser.add_argument(
        "--duration", type=float, default=float(os.environ.get("BENCH_DURATION", "10")), help="seconds of load per scenario"
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--load-client",
        choices=("wrk", "python"),
        default="wrk" if wrk.available() else "python",
        help="what sends the scenarios' requests: wrk where installed (it leaves the cores to the service), else aiohttp",
    )
    parser.add_argument("--only", nargs="*", default=[], help="run only scenarios whose name contains one of these")
    parser.add_argument(
        "--storm-seconds", type=float, default=30.0, help="seconds of the sign-in storm, and of the reads measured alone"
    )
    parser.add_argument("--regenerate", action="store_true", help="generate the data set even if it exists")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--import-rows", type=int, default=None, help="rows of the timed import (default: by scale)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    # SIGTERM (a timeout, CI) unwinds like Ctrl+C, through the `finally` that stops the server.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # uvloop, as the service runs on: the load generator shares the cores with what it measures.
    uvloop.run(bench(parse_args(argv)))


if __name__ == "__main__":
    main()
