"""The statements of the common writes are compiled once per process, not on every request: SQLAlchemy compiles a
statement without a cache key (a multi-row VALUES, for one) anew every time it runs, which cost a new customer a fifth
of its instructions."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.customers.factories import BASE, make_customer, make_interaction

# Savepoints are plain commands with nothing to compile or cache.
_COMMANDS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def compiled_anew(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements run inside the block that SQLAlchemy compiled instead of taking from its cache."""
    compiled: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool) -> None:
        cached = context.compiled is None or context.cache_hit is context.dialect.CACHE_HIT
        if not cached and not statement.lstrip().upper().startswith(_COMMANDS):
            compiled.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield compiled
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_the_common_writes_are_compiled_once(app, client, actors):
    manager = await actors.make("account_manager", team="east")
    colleague = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")

    async def writes() -> None:
        customer = await make_customer(client, manager)
        await make_interaction(client, manager, customer["id"])
        changed = await client.patch(f"{BASE}/{customer['id']}", json={"level": "regular"}, headers=manager.headers)
        assert changed.status_code == 200, changed.text
        moved = await client.post(
            f"{BASE}/{customer['id']}/transfer", json={"owner_id": colleague.id}, headers=supervisor.headers
        )
        assert moved.status_code == 200, moved.text

    await writes()  # each statement compiled, once
    with compiled_anew(app.state.db.engine) as compiled:
        await writes()
    assert compiled == []
