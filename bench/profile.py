"""`make profile`: where one worker's time goes while it serves one scenario under load.

    python -m bench.profile --scenario "customer by id (executive)" --seconds 20

Starts the service as `make bench` does, but with one worker, drives the scenario from `--clients` clients and
samples that worker with py-spy meanwhile. Writes bench/results/<date>-<commit>-profile-<scenario>.txt: the
frames holding the largest share of the event loop's samples, inclusive and self, and the self time by package.
Needs the bench data set (`make bench` makes it) and py-spy, which may need ptrace rights (root or
CAP_SYS_PTRACE).
"""

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import httpx
import uvloop

from bench.generate import DEFAULT_DATABASE_URL, asyncpg_dsn
from bench.load import drive
from bench.run import REQUEST_TIMEOUT, RESULTS, current_commit, http_call, running_server, sign_in, wait_ready
from bench.scenarios import SCENARIOS, Scenario, load_fixtures
from crm_api.core.clock import clock

# The frame every sample of the event loop's thread passes through; samples without it are other threads'.
EVENT_LOOP_FRAME = "asyncio_run (uvicorn/_compat.py)"
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass(frozen=True)
class Profile:
    samples: int
    inclusive: Counter[str]
    own: Counter[str]
    by_package: Counter[str]


def _frame_name(frame: str) -> tuple[str, str]:
    """(`function (short/path.py)`, package) of one py-spy frame."""
    found = _FRAME.match(frame)
    if found is None:
        return frame, frame
    path = found["file"]
    short = path.split("site-packages/")[-1].split("/src/")[-1]
    package = short.split("/")[0] if "/" in short else "stdlib"
    return f"{found['function']} ({short})", package.removesuffix(".py")


def summarise(raw_lines: list[str]) -> Profile:
    """py-spy's raw output (`frame;frame;… count`, outermost first) folded into shares of the event loop's time."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    samples = 0
    for line in raw_lines:
        stack, _, count = line.rstrip().rpartition(" ")
        frames = [_frame_name(frame) for frame in stack.split(";")]
        names = [name for name, _ in frames]
        if not stack or EVENT_LOOP_FRAME not in names:
            continue
        n = int(count)
        samples += n
        for name in set(names):
            inclusive[name] += n
        own[names[-1]] += n
        by_package[frames[-1][1]] += n
    return Profile(samples, inclusive, own, by_package)


def report(profile: Profile, heading: list[str], top: int) -> str:
    def table(title: str, counts: Counter[str], limit: int) -> list[str]:
        rows = [f"{count / profile.samples:6.1%}  {name}" for name, count in counts.most_common(limit)]
        return ["", title, *rows]

    lines = [*heading, f"event-loop samples: {profile.samples:,} (shares below are of these)"]
    lines += table("== self time by package (where the samples ended)", profile.by_package, 20)
    lines += table("== inclusive: frames on the stack", profile.inclusive, top)
    lines += table("== self: the innermost frame", profile.own, top // 2)
    return "\n".join(lines) + "\n"


def _py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("py-spy is not installed: `make install` brings it with the dev dependencies")
    return found


async def profile_scenario(args: argparse.Namespace, scenario: Scenario) -> Path:
    connection = await asyncpg.connect(asyncpg_dsn(args.database_url))
    try:
        fixtures = await load_fixtures(connection)
    finally:
        await connection.close()
    with running_server(args.database_url, workers=1) as (base_url, worker_pid), tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "samples.txt"
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT) as client,
            aiohttp.ClientSession(base_url, connector=aiohttp.TCPConnector(limit=args.clients)) as load_client,
        ):
            await wait_ready(client)
            headers = await sign_in(client, scenario.actor) if scenario.actor else {}
            if scenario.prepare is not None:
                await scenario.prepare(client, headers, fixtures)
            call = http_call(load_client, scenario, headers, fixtures)
            # Its own requests (another seed): a write sent again would be refused, a new customer's name being unique.
            await drive("warm-up", call, concurrency=args.clients, seconds=2, seed=2)
            # py-spy samples a little less long than the load runs, so every sample is of a loaded worker.
            sampler = await asyncio.create_subprocess_exec(
                _py_spy(), "record", "--pid", str(worker_pid), "--duration", str(int(args.seconds) - 1),
                "--rate", str(args.rate), "--format", "raw", "--output", str(raw),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            measured = await drive(scenario.name, call, concurrency=args.clients, seconds=args.seconds)
            _, errors = await sampler.communicate()
            if sampler.returncode != 0:
                raise SystemExit(f"py-spy failed: {errors.decode(errors='replace').strip()}")
        profile = summarise(raw.read_text().splitlines())
    commit = current_commit()
    heading = [
        f"# Profile of one worker serving {scenario.name!r} ({scenario.method} {scenario.route})",
        f"commit {commit}, {clock.now():%Y-%m-%d %H:%M}, load average before {args.load_before:.2f}, {os.cpu_count()} cores",
        f"{args.clients} clients for {args.seconds:g} s: {measured.per_second:.0f} req/s, p50 {measured.percentile(50):.1f} ms, "
        f"p95 {measured.percentile(95):.1f} ms, {measured.errors} errors; py-spy at {args.rate} Hz",
        "A call into C (a socket write, asyncpg's Cython protocol) is self time of the Python frame that made it.",
    ]
    slug = re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-")
    path = args.results / f"{clock.now():%Y-%m-%d}-{commit}-profile-{slug}.txt"
    path.write_text(report(profile, heading, args.top), encoding="utf-8")
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--scenario", default="customer by id (executive)", help="a scenario's name, as `make bench` prints it")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=60, help="frames listed")
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.load_before = os.getloadavg()[0]
    by_name = {scenario.name: scenario for scenario in SCENARIOS}
    if args.scenario not in by_name:
        raise SystemExit(f"no scenario {args.scenario!r}; one of: {', '.join(sorted(by_name))}")
    path = uvloop.run(profile_scenario(args, by_name[args.scenario]))
    print(path.read_text(encoding="utf-8"))
    print(f"profile: {path}")


if __name__ == "__main__":
    main()
