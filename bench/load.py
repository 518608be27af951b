"""Closed-loop load: N clients, each sending its next request as soon as the last one answered."""

import asyncio
import random
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RetryLater:
    """An expected answer telling the client to wait `seconds` (429 with Retry-After) before its next request."""

    seconds: float


# One request or query: True when the answer was the expected one, else what was wrong with it.
Call = Callable[[random.Random], Awaitable[bool | str | RetryLater]]


@dataclass
class Measurement:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    client_cpu: float  # share of one core the load generator itself used: near 1.0 means it was the limit
    first_error: str | None = None
    # What a load generator that keeps no single latencies reports instead (wrk): percentile → ms.
    reported_percentiles: dict[int, float] | None = None

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        if self.reported_percentiles is not None:
            return self.reported_percentiles[p]
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else 0.0
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]

    def summary(self) -> dict[str, float | int | str]:
        return {
            "name": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "requests_per_second": round(self.per_second, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p95_ms": round(self.percentile(95), 2),
            "p99_ms": round(self.percentile(99), 2),
            "client_cpu": round(self.client_cpu, 2),
            "first_error": self.first_error,
        }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def drive(name: str, call: Call, *, concurrency: int, seconds: float, seed: int = 1) -> Measurement:
    """Run `call` from `concurrency` clients for `seconds`; exceptions count as errors."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    began, cpu_began = time.perf_counter(), _cpu_seconds()
    deadline = began + seconds

    async def client(number: int) -> None:
        nonlocal errors, first_error
        rng = random.Random(seed * 1_000 + number)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                outcome = await call(rng)
            except Exception as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            latencies.append((time.perf_counter() - started) * 1000)
            if isinstance(outcome, RetryLater):
                # As a client keeping to the contract does: the wait is not part of the answer's time.
                await asyncio.sleep(max(0.0, min(outcome.seconds, deadline - time.perf_counter())))
            elif outcome is not True:
                errors += 1
                first_error = first_error or str(outcome)

    await asyncio.gather(*(client(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - began
    cpu = (_cpu_seconds() - cpu_began) / elapsed
    return Measurement(name, len(latencies), errors, elapsed, latencies, cpu, first_error)


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_pids(master: int) -> list[int]:
    """uvicorn's worker processes: the master's children started by multiprocessing's spawn."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == master and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue  # the process went away while we looked
    return sorted(pids)


class MemorySampler:
    """Resident memory of the server's workers, sampled in the background; peaks per window."""

    def __init__(self, master: int, interval: float = 0.25) -> None:
        self.master, self.interval = master, interval
        self.peak_worker_kib = self.peak_total_kib = 0
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        sizes = []
        for pid in worker_pids(self.master):
            try:
                sizes.append(resident_kib(pid))
            except OSError:
                continue
        if sizes:
            self.peak_worker_kib = max(self.peak_worker_kib, *sizes)
            self.peak_total_kib = max(self.peak_total_kib, sum(sizes))

    def window(self) -> dict[str, float]:
        """Peaks since the previous window, in MiB, and start a new window."""
        self.sample()
        peaks = {"peak_worker_mib": round(self.peak_worker_kib / 1024, 1), "peak_total_mib": round(self.peak_total_kib / 1024, 1)}
        self.peak_worker_kib = self.peak_total_kib = 0
        return peaks

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
