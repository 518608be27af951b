"""core.pubsub on PostgreSQL: a NOTIFY goes out when its transaction commits (never for a rollback), reaches every
in-process subscriber of its channel through the one listening connection, and survives that connection dropping."""

from collections.abc import Callable

import pytest
from sqlalchemy import text

from crm_api.core.pubsub import PubSub, listen_dsn, publish
from tests.platform.test_idempotency_crash import _until

CHANNEL = "crm_test_pubsub"


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    async def condition() -> bool:
        return check()

    await _until(condition, seconds, what)


@pytest.fixture
def _postgres(app) -> None:
    if app.state.db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite subscribers poll")


@pytest.mark.usefixtures("_postgres")
async def test_committed_messages_reach_every_subscriber_and_a_dropped_connection_comes_back(app, settings):
    pubsub = PubSub(listen_dsn(settings.database_url))
    first: list[str | None] = []
    second: list[str | None] = []
    await pubsub.subscribe(CHANNEL, first.append)
    unsubscribe = await pubsub.subscribe(CHANNEL, second.append)
    try:
        await until(lambda: None in first, 10, "the listening connection")  # connected: a resync
        async with app.state.db.sessionmaker() as session:
            async with session.begin():
                await publish(session, CHANNEL, "rolled back")
                await session.rollback()
            async with session.begin():
                await publish(session, CHANNEL, "committed")
        await until(lambda: "committed" in first and "committed" in second, 2, "the committed message")
        assert "rolled back" not in first  # NOTIFYs arrive in commit order: it would have come first

        unsubscribe()
        async with app.state.db.sessionmaker() as session, session.begin():
            listeners = await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
                )
            )
            assert listeners.all(), "the listening connection was found"
        await until(lambda: first.count(None) == 2, 10, "the reconnect and its resync")
        async with app.state.db.sessionmaker() as session, session.begin():
            await publish(session, CHANNEL, "after the reconnect")
        await until(lambda: "after the reconnect" in first, 2, "a message after the reconnect")
        assert "after the reconnect" not in second  # it unsubscribed
    finally:
        await pubsub.stop()
