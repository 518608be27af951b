"""A request scenario's load driven by wrk, the C load generator the issue's own measurements used.

The service shares the machine's cores with whatever loads it. The Python client (`load.drive` through aiohttp)
spends a fifth of a core at 1,300 req/s, a tenth of a two-core machine that the service would otherwise have; wrk
spends a small fraction of that. wrk sends what a Lua script gives it: the scenario's requests are drawn beforehand
(as many as the run could send, so a write's bodies do not repeat), written as a Lua table and cycled through; the
script counts the answers the scenario does not expect and reports the latency percentiles as JSON.
"""

import json
import random
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from bench.load import Measurement
from bench.scenarios import Fixtures, Scenario

# Requests drawn per second of load: above what any scenario reaches on the bench machine.
REQUESTS_PER_SECOND_BOUND = 5_000
LUA_OPEN, LUA_CLOSE = "[==[", "]==]"

SCRIPT = """
local entries = dofile(%(data)s)
local headers = %(headers)s
local expected = %(expected)s
local prepared, next_entry = {}, 0

function init(args)
  for index, entry in ipairs(entries) do
    local own = {}
    for name, value in pairs(headers) do own[name] = value end
    if entry[3] then own["Content-Type"] = "application/json" end
    prepared[index] = wrk.format(entry[1], entry[2], own, entry[3])
  end
end

function request()
  next_entry = next_entry %% #prepared + 1
  return prepared[next_entry]
end

unexpected, first_unexpected = 0, ""

function response(status, _, body)
  if not expected[status] then
    unexpected = unexpected + 1
    if first_unexpected == "" then first_unexpected = status .. " " .. string.sub(body or "", 1, 200) end
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, _)
  local bad, first = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    if first == "" then first = thread:get("first_unexpected") end
  end
  local errors = summary.errors
  local file = io.open(%(first_error)s, "w")
  file:write(first)
  file:close()
  io.write(string.format(
    '{"requests": %%d, "microseconds": %%d, "unexpected": %%d, "socket_errors": %%d, "p50": %%d, "p95": %%d, "p99": %%d}\\n',
    summary.requests, summary.duration, bad, errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    if LUA_CLOSE in text:
        raise ValueError(f"{text[:80]!r} holds {LUA_CLOSE}")
    return f"{LUA_OPEN}{text}{LUA_CLOSE}"


def _requests_table(scenario: Scenario, fixtures: Fixtures, count: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = ["return {"]
    for _ in range(count):
        path, params, body = scenario.request(rng, fixtures)
        target = f"{path}?{urlencode(params, doseq=True)}" if params else path
        sent = _lua_string(json.dumps(body)) if body is not None else "nil"
        lines.append(f"{{{_lua_string(scenario.method)}, {_lua_string(target)}, {sent}}},")
    lines.append("}")
    return "\n".join(lines)


def drive(
    scenario: Scenario,
    fixtures: Fixtures,
    base_url: str,
    headers: dict[str, str],
    *,
    concurrency: int,
    seconds: float,
    timeout: float,
    seed: int = 1,
) -> Measurement:
    """`concurrency` connections sending the scenario's requests for `seconds`, through one wrk thread."""
    lua_headers = "{" + ", ".join(f"[ {_lua_string(name)} ] = {_lua_string(value)}" for name, value in headers.items()) + "}"
    lua_expected = "{" + ", ".join(f"[{status}] = true" for status in scenario.expect) + "}"
    with tempfile.TemporaryDirectory() as scratch:
        data, script, first_error = Path(scratch, "requests.lua"), Path(scratch, "load.lua"), Path(scratch, "first_error")
        data.write_text(_requests_table(scenario, fixtures, round(seconds * REQUESTS_PER_SECOND_BOUND), seed))
        values = {"data": _lua_string(str(data)), "first_error": _lua_string(str(first_error))}
        script.write_text(SCRIPT % (values | {"headers": lua_headers, "expected": lua_expected}))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", f"--timeout={timeout:g}s", "-s", str(script), base_url]
        ran = subprocess.run(command, capture_output=True, text=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        last = ran.stdout.strip().splitlines()[-1:]
        # wrk runs on with its default request when the script fails to load: only the script's report counts.
        if ran.returncode != 0 or ran.stderr.strip() or not last or not last[0].startswith("{"):
            raise SystemExit(f"wrk failed for {scenario.name}:\n{ran.stdout[-2000:]}\n{ran.stderr[-2000:]}")
        report = json.loads(last[0])
        first = first_error.read_text() or None
    elapsed = report["microseconds"] / 1e6
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / elapsed
    percentiles = {p: report[f"p{p}"] / 1000 for p in (50, 95, 99)}
    errors = report["unexpected"] + report["socket_errors"]
    return Measurement(scenario.name, report["requests"], errors, elapsed, [], cpu, first, percentiles)
