"""`make instructions`: the CPU instructions the service spends on one request of a scenario, counted by callgrind.

    python -m bench.instructions --scenario "customer by id (executive)" "order history (executive)" --requests 300

On a shared machine the timed bench's req/s moves by a third from one run to the next, and by as much between a
version and the one before it measured minutes apart; an instruction count does not (the same code, data and
requests give the same count within a percent, whatever else the machine is doing), so it is what tells whether a
change made a request cheaper. The service runs in a child process under `valgrind --tool=callgrind` against the
bench data set (PostgreSQL, as `make bench` makes it), driven through its ASGI interface with no HTTP client or
server, and callgrind counts only the measured requests: instrumentation is switched on around them, after start-up,
sign-in and a warm-up. PostgreSQL's own work is not counted; the raw-asyncpg ceiling of `make bench` stands for it.
Writes bench/results/<date>-<commit>-instructions.md. Needs valgrind.
"""

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx

from bench.generate import BENCH_PASSWORD, DEFAULT_DATABASE_URL, asyncpg_dsn
from bench.run import RESULTS, current_commit
from bench.scenarios import SCENARIOS, Scenario, load_fixtures
from crm_api.core.clock import clock

DEFAULT_SCENARIOS = (
    "me",
    "users first page",
    "audit trail first page",
    "customer by id (executive)",
    "customers first page (executive)",
    "customers deep page (executive)",
    "search customers by name (executive)",
    "customer overview (account manager)",
    "order history (executive)",
    "create interaction (account manager)",
    "contract by id (executive)",
    "contracts first page (executive)",
    "contract installments (executive)",
)
WARM_UP = 50
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


async def asgi_request(
    app: Any, method: str, path: str, params: Mapping[str, Any] | None, body: Any, headers: dict[str, str]
) -> int:
    """One request straight into the ASGI app; its status."""
    content = json.dumps(body).encode() if body is not None else b""
    raw_headers = [(b"host", b"bench"), *((name.lower().encode(), value.encode()) for name, value in headers.items())]
    if body is not None:
        raw_headers += [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(params or {}, doseq=True).encode(),
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    received = False
    statuses: list[int] = []
    disconnected = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": content, "more_body": False}
        await disconnected.wait()  # a streamed response listens for the client leaving: it never does
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


def _callgrind(*switch: str) -> None:
    subprocess.run(["callgrind_control", *switch, str(os.getpid())], capture_output=True, check=False)


async def measure_in_child(database_url: str, scenario: Scenario, requests: int) -> None:
    """The child's part: start the app, sign in, warm up, then the counted requests with instrumentation on."""
    os.environ |= {
        "CRM_ENV": "prod",
        "CRM_DATABASE_URL": database_url,
        "CRM_SECRET_KEY": secrets.token_urlsafe(48),
        "CRM_LOG_LEVEL": "WARNING",
        "CRM_SCHEDULER_ENABLED": "false",
    }
    from crm_api.main import create_app  # after the environment: the settings are read when the app is made

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        fixtures = await load_fixtures(connection)
    finally:
        await connection.close()
    app = create_app()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client,
    ):
        headers: dict[str, str] = {}
        if scenario.actor is not None:
            login = {"username": scenario.actor, "password": BENCH_PASSWORD}
            signed_in = (await client.post("/api/v1/auth/login", json=login)).raise_for_status().json()
            headers = {"Authorization": f"Bearer {signed_in['access_token']}"}
        if scenario.prepare is not None:
            await scenario.prepare(client, headers, fixtures)
        rng = random.Random(20261206)
        answers: Counter[int] = Counter()

        async def one() -> None:
            path, params, body = scenario.request(rng, fixtures)
            answers[await asgi_request(app, scenario.method, path, params, body, headers)] += 1

        for _ in range(WARM_UP):
            await one()
        _callgrind("--instr=on")
        for _ in range(requests):
            await one()
        _callgrind("--instr=off")
    unexpected = {status: count for status, count in answers.items() if status not in scenario.expect}
    print(json.dumps({"answers": dict(answers), "unexpected": unexpected}))


def count(database_url: str, scenario: Scenario, requests: int) -> int:
    """Instructions per request of the scenario: the child run under callgrind, its total divided by `requests`."""
    with tempfile.TemporaryDirectory() as scratch:
        child = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={scratch}/callgrind.out",
                sys.executable,
                "-m",
                "bench.instructions",
                "--child",
                "--database-url",
                database_url,
                "--requests",
                str(requests),
                "--scenario",
                scenario.name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    collected = _COLLECTED.search(child.stderr)
    report = json.loads(child.stdout.strip().splitlines()[-1]) if child.returncode == 0 and child.stdout.strip() else None
    if collected is None or report is None or report["unexpected"]:
        raise SystemExit(f"{scenario.name}: the child failed\n{child.stdout[-2000:]}\n{child.stderr[-4000:]}")
    return int(collected.group(1)) // requests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--scenario", nargs="*", default=list(DEFAULT_SCENARIOS), help="names, as `make bench` prints them")
    parser.add_argument("--requests", type=int, default=300, help="counted requests per scenario")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    by_name = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in args.scenario if name not in by_name]
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(unknown)}")
    if args.child:
        asyncio.run(measure_in_child(args.database_url, by_name[args.scenario[0]], args.requests))
        return
    commit = current_commit()
    lines = [
        f"# Instructions per request, commit {commit}, {clock.now():%Y-%m-%d %H:%M}",
        "",
        f"callgrind, {args.requests} requests per scenario after {WARM_UP} of warm-up, in process (no HTTP); "
        "PostgreSQL's work is not counted.",
        "",
        "| scenario | instructions per request |",
        "|---|---:|",
    ]
    for name in args.scenario:
        instructions = count(args.database_url, by_name[name], args.requests)
        print(f"  {name:<45} {instructions:>12,} instructions per request", flush=True)
        lines.append(f"| {name} | {instructions:,} |")
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"{clock.now():%Y-%m-%d}-{commit}-instructions.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
