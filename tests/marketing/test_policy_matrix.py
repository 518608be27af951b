"""Role × status: what a campaign lists in `allowed_actions` is exactly what the API then accepts."""

import pytest

from crm_api.auth.principal import principal_for_user
from crm_api.core.errors import Conflict, Forbidden
from crm_api.marketing import campaigns
from crm_api.marketing.policy import CampaignAction, CampaignStatus
from tests.factories import assert_problem
from tests.marketing.factories import CAMPAIGNS, act, campaign_in, create_segment

EDITABLE = [CampaignAction.EDIT, CampaignAction.ADD_VARIANT, CampaignAction.SCHEDULE, CampaignAction.CANCEL]
# What a campaign with an audience allows a marketing writer (marketer, admin) in each status.
WRITER = {
    CampaignStatus.DRAFT: EDITABLE,
    CampaignStatus.SCHEDULED: [CampaignAction.START, CampaignAction.CANCEL],
    CampaignStatus.RUNNING: [CampaignAction.FINISH],
    CampaignStatus.DONE: [],
    CampaignStatus.CANCELLED: [],
}
EXPECTED = {"marketer": WRITER, "admin": WRITER, "executive": {status: [] for status in CampaignStatus}}


def _attempt(client, caller, campaign_id: int, action: CampaignAction):
    if action == CampaignAction.EDIT:
        return client.patch(f"{CAMPAIGNS}/{campaign_id}", json={"goal": "x"}, headers=caller.headers)
    if action == CampaignAction.ADD_VARIANT:
        body = {"name": "V", "subject": "s", "body": "b"}
        return client.post(f"{CAMPAIGNS}/{campaign_id}/variants", json=body, headers=caller.headers)
    return act(client, caller, campaign_id, action)


async def test_allowed_actions_are_exactly_what_the_api_accepts(client, actors):
    marketer = await actors.make("marketer")
    callers = {"marketer": marketer, "admin": await actors.make("admin"), "executive": await actors.make("executive")}
    segment = await create_segment(client, marketer)
    for name, caller in callers.items():
        for status in CampaignStatus:
            campaign = await campaign_in(client, marketer, segment["id"], status)
            listed = (await client.get(f"{CAMPAIGNS}/{campaign['id']}", headers=caller.headers)).json()["allowed_actions"]
            assert listed == EXPECTED[name][status], (name, status)
            for action in CampaignAction:
                if action in listed:
                    # A fresh campaign each time: an accepted transition moves it.
                    fresh = await campaign_in(client, marketer, segment["id"], status)
                    response = await _attempt(client, caller, fresh["id"], action)
                    assert response.status_code in (200, 201), (name, status, action, response.text)
                else:
                    response = await _attempt(client, caller, campaign["id"], action)
                    assert_problem(response, 403 if name == "executive" else 409)


async def test_the_service_refuses_what_the_rules_refuse(session, actors, client):
    """Called directly, without the routes' permission checks, the service still applies the policy."""
    marketer_actor = await actors.make("marketer")
    executive_actor = await actors.make("executive")
    segment = await create_segment(client, marketer_actor)
    running = await campaign_in(client, marketer_actor, segment["id"], "running")
    marketer, _ = await principal_for_user(session, marketer_actor.id)
    executive, _ = await principal_for_user(session, executive_actor.id)

    with pytest.raises(Forbidden) as refused:
        await campaigns.transition(session, executive, running["id"], CampaignAction.FINISH)
    assert refused.value.code == "auth.missing_permission"
    with pytest.raises(Conflict) as conflict:
        await campaigns.transition(session, marketer, running["id"], CampaignAction.CANCEL)
    assert conflict.value.code == "campaign.not_cancellable" and conflict.value.extra["current_status"] == "running"
    assert (await campaigns.transition(session, marketer, running["id"], CampaignAction.FINISH)).status == "done"
