"""Role × status: what a lead lists in `allowed_actions` is exactly what the API then accepts."""

from collections.abc import Awaitable, Callable

import httpx
import pytest

from crm_api.auth.principal import principal_for_user
from crm_api.core.errors import Conflict, Forbidden
from crm_api.leads import service
from crm_api.leads.policy import LeadAction, LeadStatus
from tests.factories import Actor, assert_problem
from tests.leads.factories import API, custom_role, lead_in

EVERYTHING = list(LeadAction)
UNTIL_CONVERTED = [LeadAction.EDIT, LeadAction.DELETE, LeadAction.NURTURE]
NOT_CONVERTING = [a for a in EVERYTHING if a != LeadAction.CONVERT]

# Who may do what to a lead the east account manager owns, in each status.
EXPECTED = {
    "owner": {
        "new": EVERYTHING,
        "working": EVERYTHING,
        "qualified": [a for a in EVERYTHING if a != LeadAction.QUALIFY],
        "converted": [],
        "disqualified": UNTIL_CONVERTED,
    },
    # Seeing and working every lead without a converting role: everything but convert.
    "lead_desk": {
        "new": NOT_CONVERTING,
        "working": NOT_CONVERTING,
        "qualified": [a for a in NOT_CONVERTING if a != LeadAction.QUALIFY],
        "converted": [],
        "disqualified": UNTIL_CONVERTED,
    },
    "executive": {status: [] for status in LeadStatus},
}
# The owner's supervisor, marketers and admins may do all the owner may.
for role in ("sales_supervisor", "marketer", "admin"):
    EXPECTED[role] = EXPECTED["owner"]


def _attempts(client: httpx.AsyncClient, actor: Actor) -> dict[LeadAction, Callable[[int], Awaitable[httpx.Response]]]:
    def post(move: str, body: dict | None = None) -> Callable[[int], Awaitable[httpx.Response]]:
        return lambda lead_id: client.post(f"{API}/{lead_id}/{move}", json=body, headers=actor.headers)

    return {
        LeadAction.EDIT: lambda lead_id: client.patch(f"{API}/{lead_id}", json={"notes": "x"}, headers=actor.headers),
        LeadAction.DELETE: lambda lead_id: client.delete(f"{API}/{lead_id}", headers=actor.headers),
        LeadAction.NURTURE: post("activities", {"kind": "note"}),
        LeadAction.QUALIFY: post("qualify"),
        LeadAction.DISQUALIFY: post("disqualify", {"reason": "No budget"}),
        LeadAction.CONVERT: post("convert"),
    }


async def test_allowed_actions_are_exactly_what_the_api_accepts(client, actors, app):
    owner = await actors.make("account_manager", team="east")
    await custom_role(app, "lead_desk", {"leads:read": "all", "leads:write": "all"})
    callers = {
        "owner": owner,
        "sales_supervisor": await actors.make("sales_supervisor", team="east"),
        "marketer": await actors.make("marketer"),
        "admin": await actors.make("admin"),
        "executive": await actors.make("executive"),
        "lead_desk": await actors.make("lead_desk"),
    }
    for name, caller in callers.items():
        attempts = _attempts(client, caller)
        for status in LeadStatus:
            lead = await lead_in(client, owner, status)
            listed = (await client.get(f"{API}/{lead['id']}", headers=caller.headers)).json()["allowed_actions"]
            assert listed == EXPECTED[name][status], (name, status)
            for action, attempt in attempts.items():
                if action in listed:
                    # A fresh lead each time: an accepted action moves it.
                    response = await attempt((await lead_in(client, owner, status))["id"])
                    assert response.status_code in (200, 201, 204), (name, status, action, response.text)
                else:
                    response = await attempt(lead["id"])
                    assert response.status_code in (403, 409), (name, status, action, response.text)
                    assert_problem(response, response.status_code)


async def test_the_service_refuses_what_the_rules_refuse(session, actors, client):
    """Called directly, without the routes' permission checks, the service still applies the policy."""
    owner_actor = await actors.make("account_manager", team="east")
    executive_actor = await actors.make("executive")
    converted = await lead_in(client, owner_actor, "converted")
    fresh = await lead_in(client, owner_actor, "new")
    owner, _ = await principal_for_user(session, owner_actor.id)
    executive, _ = await principal_for_user(session, executive_actor.id)

    with pytest.raises(Forbidden) as refused:
        await service.qualify(session, executive, fresh["id"])
    assert refused.value.code == "auth.missing_permission"
    with pytest.raises(Conflict) as conflict:
        await service.disqualify(session, owner, converted["id"], "late")
    assert conflict.value.code == "lead.converted" and conflict.value.extra["current_status"] == "converted"
    assert (await service.qualify(session, owner, fresh["id"])).status == "qualified"
