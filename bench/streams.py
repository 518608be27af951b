"""Memory of idle notification streams: N Server-Sent Event streams held open on one worker, with the worker's
resident memory before and after them (the target: under 50 MiB more for 1,000 streams).

    python -m bench.streams --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/crm_bench --streams 1000

Runs `crm db upgrade` and creates its own user on that database, then serves it with one worker (production
settings, as the main bench does) and opens the streams from raw sockets, so the client costs the machine little.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import httpx

from bench.generate import BENCH_PASSWORD
from bench.load import resident_kib, worker_pids
from bench.run import DEFAULT_DATABASE_URL, ROOT, running_server, sign_in, wait_ready

STREAM = "/api/v1/notifications/stream"
STREAM_USER = "bench.streams"
OPEN_AT_ONCE = 25  # streams opened concurrently: a thousand at once would queue past the pool timeout on a busy machine
WARM_UP = 100  # opened and closed before the baseline: imports, the listening connection, a grown pool


def prepare_database(database_url: str) -> None:
    env = os.environ | {"CRM_DATABASE_URL": database_url, "CRM_LOG_LEVEL": "WARNING"}
    crm = [sys.executable, "-m", "crm_api.cli"]
    subprocess.run([*crm, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    # Fails harmlessly when the user exists from an earlier run.
    create = [*crm, "users", "create", "--username", STREAM_USER, "--password", BENCH_PASSWORD, "--role", "account_manager"]
    subprocess.run(create, env=env, cwd=ROOT, check=False, capture_output=True)


async def open_stream(port: int, authorization: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream whose response head has arrived: the server holds it open from then on."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {authorization}\r\nAccept: text/event-stream\r\n\r\n"
    )
    writer.write(head.encode())
    status = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)).split(b"\r\n", 1)[0]
    if b" 200 " not in status:
        raise SystemExit(f"the stream was refused: {status.decode()}")
    return reader, writer


async def hold(port: int, authorization: str, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    streams = []
    for start in range(0, count, OPEN_AT_ONCE):
        batch = min(OPEN_AT_ONCE, count - start)
        streams += await asyncio.gather(*(open_stream(port, authorization) for _ in range(batch)))
    return streams


async def close(streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    for _, writer in streams:
        writer.close()
    await asyncio.gather(*(writer.wait_closed() for _, writer in streams), return_exceptions=True)


async def measure(database_url: str, count: int) -> dict[str, Any]:
    with running_server(database_url, workers=1) as (base_url, master):
        port = int(base_url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            await wait_ready(client)
            authorization = (await sign_in(client, STREAM_USER))["Authorization"]
        worker = (worker_pids(master) or [master])[0]
        await close(await hold(port, authorization, WARM_UP))
        before = resident_kib(worker)
        streams = await hold(port, authorization, count)
        after = resident_kib(worker)
        await close(streams)
    return {
        "streams": count,
        "worker_rss_before_mib": round(before / 1024, 1),
        "worker_rss_with_streams_mib": round(after / 1024, 1),
        "extra_mib": round((after - before) / 1024, 1),
        "extra_kib_per_stream": round((after - before) / count, 1),
        "extra_mib_per_1000_streams": round((after - before) / count * 1000 / 1024, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.streams", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args(argv)
    prepare_database(args.database_url)
    print(json.dumps(asyncio.run(measure(args.database_url, args.streams)), indent=2))


if __name__ == "__main__":
    main()
