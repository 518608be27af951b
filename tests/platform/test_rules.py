"""A rule table lists as allowed exactly the actions it lets through, though its actions share checks that
`allowed_actions` runs once per record."""

from types import SimpleNamespace

import pytest

from crm_api.contracts.policy import RULES, WRITE, ContractAction, ContractStatus
from crm_api.core.permissions import Principal, Scope

OWNER = 7


def _principal(permissions: dict[str, Scope]) -> Principal:
    return Principal(user_id=OWNER, name="zhou.min", team_id=None, roles=("account_manager",), permissions=permissions)


@pytest.mark.parametrize("status", list(ContractStatus))
@pytest.mark.parametrize("owner_id", [OWNER, OWNER + 1])
@pytest.mark.parametrize("permissions", [{}, {WRITE: Scope.OWN}])
def test_the_allowed_actions_are_those_the_table_lets_through(status, owner_id, permissions):
    contract = SimpleNamespace(owner_id=owner_id, status=status)
    actor = _principal(permissions)
    let_through = [action for action in ContractAction if RULES.refusal(action, contract, actor) is None]
    assert RULES.allowed_actions(contract, actor) == let_through


def test_an_owner_who_may_write_an_active_contract_may_do_all_but_edit_and_submit():
    contract = SimpleNamespace(owner_id=OWNER, status=ContractStatus.ACTIVE)
    allowed = RULES.allowed_actions(contract, _principal({WRITE: Scope.OWN}))
    assert set(allowed) == set(ContractAction) - {ContractAction.EDIT, ContractAction.SUBMIT}
    assert RULES.allowed_actions(contract, _principal({})) == []
