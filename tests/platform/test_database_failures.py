"""A database that stops, crashes or hangs gives bounded 503s with Retry-After, never a 500, and the app recovers.

The chaos test runs a throwaway PostgreSQL cluster of its own (PostgreSQL lane only); the classification
tests run on both lanes.
"""

import asyncio
import glob
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from crm_api.bootstrap import seed_reference_data
from crm_api.core.errors import DatabaseFailure, classify_database_failure
from crm_api.main import create_app
from tests.conftest import _postgres_base_url, make_settings, migrate
from tests.factories import Actors

DOWN, BUSY = DatabaseFailure.DOWN, DatabaseFailure.BUSY


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """These tests use no shared database: the conftest's cleaning is not needed."""


def _wrapped(orig: Exception, kind: type[DBAPIError] = DBAPIError) -> DBAPIError:
    """As SQLAlchemy raises a driver error: its DBAPIError around the adapter's error, raised from the driver's."""
    adapter = Exception(str(orig))
    adapter.__cause__ = orig
    return kind("SELECT 1", None, adapter)


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (_wrapped(asyncpg.CannotConnectNowError("the database system is starting up")), DOWN),
        (_wrapped(asyncpg.AdminShutdownError("terminating connection due to administrator command")), DOWN),
        (_wrapped(asyncpg.CrashShutdownError("terminating connection because of crash")), DOWN),
        (_wrapped(asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")), DOWN),
        (_wrapped(asyncpg.ConnectionFailureError("connection failure")), DOWN),
        (_wrapped(asyncpg.TooManyConnectionsError("sorry, too many clients already")), BUSY),
        (_wrapped(asyncpg.QueryCanceledError("canceling statement due to statement timeout")), BUSY),
        (DBAPIError("SELECT 1", None, Exception("connection is closed"), connection_invalidated=True), DOWN),
        (TimeoutError(), DOWN),
        (ConnectionResetError(), DOWN),
        (DisconnectionError("cannot connect to the database"), DOWN),
        (PoolTimeout("QueuePool limit of size 5 overflow 0 reached"), BUSY),
        (_wrapped(asyncpg.UniqueViolationError("duplicate key"), IntegrityError), None),
        (_wrapped(asyncpg.UndefinedTableError('relation "x" does not exist'), ProgrammingError), None),
        (ValueError("a bug"), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_database_errors_are_classified_by_sqlstate_and_type(error, failure):
    assert classify_database_failure(error) is failure


def test_sqlite_errors_are_classified_by_result_code(tmp_path):
    with pytest.raises(sqlite3.OperationalError) as unopenable:
        sqlite3.connect(tmp_path / "missing" / "crm.db")
    assert classify_database_failure(_wrapped(unopenable.value)) is DOWN
    path = tmp_path / "locked.db"
    holder, waiter = sqlite3.connect(path), sqlite3.connect(path, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError) as locked:
        waiter.execute("SELECT * FROM sqlite_master")
    assert classify_database_failure(_wrapped(locked.value)) is BUSY
    with pytest.raises(sqlite3.OperationalError) as syntax:
        waiter.execute("SELEKT 1")
    assert classify_database_failure(_wrapped(syntax.value)) is None
    holder.close()
    waiter.close()


# -- The chaos test -------------------------------------------------------------------------------------------

# Slow enough for a loaded CI machine, short enough that the whole test stays well under a minute.
CONNECT_TIMEOUT, COMMAND_TIMEOUT, STATEMENT_TIMEOUT_MS, POOL_TIMEOUT, READY_TIMEOUT = 1.0, 1.0, 800, 1.0, 1.0
# An answer within this, whatever the database does: a command timeout, plus SQLAlchemy's 2 s graceful close of
# the connection it then invalidates, plus room.
ANSWER_BOUND, READY_BOUND = 5.0, 2.0
PHASE_TIMEOUT = 20.0


def _postgres_bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(Path(candidate) / "initdb", os.X_OK):
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie no longer holds anything


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PHASE_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {PHASE_TIMEOUT} s waiting for {what}")
        await asyncio.sleep(0.05)


class Cluster:
    """A PostgreSQL cluster in a temporary directory; as root, run as the `postgres` OS user (initdb insists)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="crm-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.process: subprocess.Popen[bytes] | None = None
        self.children: list[int] = []
        if self.user:
            shutil.chown(self.root, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([str(self.bindir / tool), *args], user=self.user, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "fsync": "off",  # only the postmaster is killed, never the machine: the OS keeps the writes
            "max_connections": "40",
            "shared_buffers": "16MB",
        }
        options = [f"-c{name}={value}" for name, value in settings.items()]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), *options],
                user=self.user,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def ready(self) -> None:
        async def accepts() -> bool:
            with suppress(OSError, asyncpg.PostgresError, TimeoutError):
                connection = await asyncpg.connect(self.url.replace("+asyncpg", ""), timeout=1)
                await connection.close()
                return True
            return False

        deadline = time.monotonic() + PHASE_TIMEOUT
        while not await accepts():
            assert self.process is not None and self.process.poll() is None, self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the cluster did not start"
            await asyncio.sleep(0.1)
        self.children = _children(self.process.pid)

    def postmaster(self) -> subprocess.Popen[bytes]:
        assert self.process is not None
        return self.process

    def signal_postmaster(self, signum: int) -> None:
        self.children = _children(self.postmaster().pid)  # the backends of the app's connections too
        self.postmaster().send_signal(signum)

    def signal_all(self, signum: int) -> None:
        """The postmaster first, so it starts no child while they are signalled."""
        postmaster = self.postmaster()
        with suppress(ProcessLookupError):
            postmaster.send_signal(signum)
        for child in _children(postmaster.pid):
            with suppress(ProcessLookupError):
                os.kill(child, signum)

    async def stopped(self) -> None:
        postmaster = self.postmaster()
        await _until(lambda: postmaster.poll() is not None, "the postmaster to exit")
        # A killed postmaster's backends notice and exit by themselves; a new one will not start beside them.
        await _until(lambda: not any(_alive(child) for child in self.children), "the old backends to exit")

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal_all(signal.SIGCONT)
            self.process.send_signal(signal.SIGQUIT)  # immediate shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for child in self.children:
            with suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if _postgres_base_url() is None:
        pytest.skip("PostgreSQL lane only (CRM_TEST_DATABASE_URL)")
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries (initdb, postgres)")
    cluster = Cluster(bindir)
    try:
        yield cluster
    finally:
        cluster.destroy()


@dataclass
class Answer:
    path: str
    status: int
    seconds: float
    at: float
    retry_after: str | None
    code: str | None


@dataclass
class Traffic:
    """Clients that keep asking while the database misbehaves; every answer is kept."""

    client: httpx.AsyncClient
    paths: dict[str, dict[str, str]]
    answers: list[Answer] = field(default_factory=list)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def _ask(self, path: str, headers: dict[str, str]) -> None:
        while not self._stopped.is_set():
            started = time.monotonic()
            try:
                response = await asyncio.wait_for(self.client.get(path, headers=headers), timeout=3 * ANSWER_BOUND)
            except TimeoutError:
                self.answers.append(Answer(path, 0, time.monotonic() - started, started, None, "no answer"))
                continue
            problem = response.headers.get("content-type", "").startswith("application/problem+json")
            self.answers.append(
                Answer(
                    path,
                    response.status_code,
                    time.monotonic() - started,
                    started,
                    response.headers.get("retry-after"),
                    response.json().get("code") if problem else None,
                )
            )
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), 0.05)  # pace: about 20 requests a second each

    def seen(self, status: int, since: float) -> bool:
        """Every path was answered `status` by a request sent after `since`."""
        return all(any(a.path == p and a.status == status and a.at >= since for a in self.answers) for p in self.paths)

    def start(self) -> "asyncio.Future[list[None]]":
        return asyncio.gather(*(self._ask(path, headers) for path, headers in self.paths.items() for _ in range(2)))

    def stop(self) -> None:
        self._stopped.set()


async def test_a_stopped_crashed_or_frozen_database_gives_bounded_503s_and_the_app_recovers(cluster: Cluster) -> None:
    began = time.monotonic()
    cluster.start()
    await cluster.ready()
    await migrate(cluster.url)
    settings = make_settings(
        cluster.url,
        database_pool_size=5,
        database_connect_timeout_seconds=CONNECT_TIMEOUT,
        database_command_timeout_seconds=COMMAND_TIMEOUT,
        database_statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        database_pool_timeout_seconds=POOL_TIMEOUT,
        health_ready_timeout_seconds=READY_TIMEOUT,
    )
    app = create_app(settings)
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_reference_data(session)
    admin = await Actors(app).make("admin")
    timings = {"setup": time.monotonic() - began}

    async def crash() -> None:
        cluster.signal_postmaster(signal.SIGKILL)
        await cluster.stopped()

    async def stop_cleanly() -> None:
        cluster.signal_postmaster(signal.SIGINT)  # fast shutdown, as `pg_ctl stop`
        await cluster.stopped()

    async def freeze() -> None:
        frozen_at = time.monotonic()
        cluster.signal_all(signal.SIGSTOP)
        await _until(lambda: traffic.seen(503, frozen_at), "503s while frozen")
        cluster.signal_all(signal.SIGCONT)

    async def phase(name: str, disrupt: Callable[[], Awaitable[None]], *, restarts: bool) -> None:
        began = time.monotonic()
        await _until(lambda: traffic.seen(200, began), f"200s before the {name}")
        disrupted_at = time.monotonic()
        await disrupt()
        # Restarted only once the traffic has met the outage: on a busy machine a restart right after the stop could
        # come before any request did.
        await _until(lambda: traffic.seen(503, disrupted_at), f"503s after the {name}")
        if restarts:
            cluster.start()
            await cluster.ready()
        restored_at = time.monotonic()
        await _until(lambda: traffic.seen(200, restored_at), f"200s again after the {name}")
        timings[name] = time.monotonic() - began

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        paths = {"/health/ready": {}, "/api/v1/auth/me": admin.headers, "/api/v1/customers": admin.headers}
        traffic = Traffic(client, paths)
        running = traffic.start()
        try:
            await phase("clean stop", stop_cleanly, restarts=True)
            await phase("kill -9", crash, restarts=True)
            await phase("SIGSTOP", freeze, restarts=False)
        finally:
            traffic.stop()
            await asyncio.wait_for(running, timeout=3 * ANSWER_BOUND)
            await app.state.db.dispose()

    answers = traffic.answers
    assert [a for a in answers if a.status not in (200, 503)] == []
    assert [a for a in answers if a.status == 503 and (a.retry_after is None or a.code != "database.unavailable")] == []
    assert [a for a in answers if a.seconds >= ANSWER_BOUND] == []
    assert [a for a in answers if a.path == "/health/ready" and a.seconds >= READY_BOUND] == []
    timings["total"] = time.monotonic() - began
    print(  # shown with -s: how long each phase took, and how many answers of each kind
        {k: round(v, 1) for k, v in timings.items()},
        {s: sum(a.status == s for a in answers) for s in (200, 503)},
        f"slowest {max(a.seconds for a in answers):.2f} s",
    )
