"""Customer codes: unique and increasing, handed out without a row every create waits on."""

import pytest

from crm_api.core.codes import next_codes
from tests.concurrency import race, skip_unless_postgresql, statuses
from tests.customers.factories import BASE

CUSTOMERS = 32


async def test_concurrent_creates_get_distinct_codes(client, actors, settings):
    skip_unless_postgresql(settings)
    manager = await actors.make("account_manager")

    async def create(n: int):
        body = {"name": f"并发客户{n:02d}", "region": "shanghai", "level": "major"}
        return await client.post(BASE, json=body, headers=manager.headers)

    responses = await race(create, CUSTOMERS)
    assert statuses(responses) == {201: CUSTOMERS}
    codes = {response.json()["code"] for response in responses}
    assert len(codes) == CUSTOMERS and all(code.startswith("KH") for code in codes)


async def test_a_batch_of_codes_increases_after_the_last_single_code(session):
    first = await next_codes(session, "KH", 1)
    batch = await next_codes(session, "KH", 3)
    assert batch == sorted(batch) and len(set(batch)) == 3 and batch[0] > first[0]


async def test_an_undeclared_series_is_refused(session):
    with pytest.raises(ValueError, match="unknown code series"):
        await next_codes(session, "ZZ", 1)
