"""Approvers deciding one step at once: exactly one decision counts, the others get 409 (PostgreSQL)."""

import pytest

from crm_api.approvals.policy import ApprovalStatus
from tests.approvals.factories import API, PURCHASES, define_flow, request_approval
from tests.concurrency import RACERS, audited, losers_codes, published, race, skip_unless_postgresql, statuses


@pytest.fixture(autouse=True)
def _fresh_outcomes():
    PURCHASES.outcomes.clear()


async def test_concurrent_approvals_of_one_step_count_once(client, actors, app, settings):
    skip_unless_postgresql(settings)
    admin = await actors.make("admin")
    requester = await actors.make("account_manager", team="east")
    supervisors = [await actors.make("sales_supervisor", team="east") for _ in range(RACERS)]
    await define_flow(client, admin)
    request_id = await request_approval(app, requester, 7)

    def decide(n: int):
        action = "approve" if n % 2 == 0 else "reject"
        return client.post(f"{API}/{request_id}/{action}", json={"comment": f"by {n}"}, headers=supervisors[n].headers)

    responses = await race(decide)

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"approval.changed", "approval.not_pending"}
    final = (await client.get(f"{API}/{request_id}", headers=requester.headers)).json()
    assert final["status"] in {"approved", "rejected"}
    assert [s["decision"] for s in final["steps"]] == [final["status"]]
    assert len(PURCHASES.outcomes) == 1 and PURCHASES.outcomes[0][1] == ApprovalStatus(final["status"])
    assert await audited(app, "approval", "approve") + await audited(app, "approval", "reject") == 1
    assert await published(app, "approval.decided") == 1
