"""A read of several statements sees one snapshot; a single-statement read stays in autocommit."""

import httpx
from sqlalchemy import text

from crm_api.core.db import SessionDep, SnapshotRoute
from crm_api.core.routing import DomainRouter
from crm_api.main import DOMAIN_ROUTERS, create_app
from tests.customers.factories import make_customer

ISOLATION = "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')"


def _app_with_probes(settings):
    app = create_app(settings)
    snapshot_router = DomainRouter(route_class=SnapshotRoute)
    plain_router = DomainRouter()  # its routes are UnitOfWorkRoutes, as every domain's

    async def _isolation(session) -> dict[str, object]:
        if session.bind.dialect.name != "postgresql":
            return {"in_transaction": session.in_transaction()}
        level, read_only = (await session.execute(text(ISOLATION))).one()
        return {"level": level, "read_only": read_only}

    @snapshot_router.get("/probe/snapshot")
    async def snapshot(session: SessionDep) -> dict[str, object]:
        return await _isolation(session)

    @plain_router.get("/probe/plain")
    async def plain(session: SessionDep) -> dict[str, object]:
        return await _isolation(session)

    @plain_router.post("/probe/plain")
    async def write(session: SessionDep) -> dict[str, object]:
        return await _isolation(session)

    app.include_router(snapshot_router)
    app.include_router(plain_router)
    return app


async def test_snapshot_routes_read_in_one_repeatable_read_transaction(settings):
    app = _app_with_probes(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            snapshot = (await client.get("/probe/snapshot")).json()
            plain = (await client.get("/probe/plain")).json()
            write = (await client.post("/probe/plain")).json()
    finally:
        await app.state.db.dispose()
    if settings.is_sqlite:
        # SQLite's deferred transaction reads one WAL snapshot from its first statement on.
        assert snapshot == {"in_transaction": True}
        return
    assert snapshot == {"level": "repeatable read", "read_only": "on"}
    assert plain == {"level": "read committed", "read_only": "off"}
    assert write == {"level": "read committed", "read_only": "off"}


def _route_classes() -> dict[tuple[str, str], type]:
    return {(route.path, method): type(route) for router in DOMAIN_ROUTERS for route in router.routes for method in route.methods}


def test_the_reads_of_several_statements_are_snapshot_routes():
    routes = _route_classes()
    reports = [kind for (path, _), kind in routes.items() if path.startswith("/reports/")]
    assert reports and set(reports) == {SnapshotRoute}
    # Beside them, the create and a one-statement read keep their plain routes.
    assert routes["/customers", "POST"] is not SnapshotRoute
    assert routes["/customers/{customer_id}", "GET"] is not SnapshotRoute
    assert routes["/customers", "GET"] is not SnapshotRoute  # one statement: each row carries its tags
    assert routes["/customers/{customer_id}/overview", "GET"] is not SnapshotRoute  # its sections are columns


async def test_a_sync_page_reads_through_the_snapshot_reader_and_the_customer_360_through_the_plain_one(app, client, actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    database, used = app.state.db, []
    for name in ("reader", "snapshot_reader"):
        setattr(database, name, _counting(getattr(database, name), name, used))
    for path in ("/api/v1/sync", f"/api/v1/customers/{customer['id']}/overview"):
        response = await client.get(path, headers=manager.headers)
        assert response.status_code == 200, response.text
    assert used == ["snapshot_reader", "reader"]


def _counting(maker, name: str, used: list[str]):
    def session():
        used.append(name)
        return maker()

    return session
