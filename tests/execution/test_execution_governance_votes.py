"""Vote tallies against a model, determinism, the permission table and the threshold rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongshi.codec import ReceiptStatus
from gongshi.crypto import get_suite
from gongshi.execution import StateIdentityReader
from gongshi.execution.builtin import default_registry
from gongshi.execution.errors import CallNotPermitted
from gongshi.execution.governance_state import effective_threshold
from gongshi.execution.permissions import (
    CALL_ROLES,
    RefusalKind,
    admission_refusal,
    require_call_permitted,
)
from gongshi.pki import Role

from .conftest import BLOCK_MS, Network  # type: ignore[import-not-found]
from .test_execution_governance import ORGS, GovChain, code_of  # type: ignore[import-not-found]


@pytest.fixture(scope="module")
def base() -> GovChain:
    network = Network(suite=get_suite("intl"))
    for org in ORGS:
        network.add_organisation(org)
    return GovChain(network)


def fresh(base: GovChain) -> GovChain:
    chain = copy.copy(base)
    chain.state = dict(base.state)
    chain.members = StateIdentityReader(chain.state, chain.suite)  # type: ignore[assignment]
    chain.nonces = copy.deepcopy(base.nonces)
    chain.sent = dict(base.sent)
    return chain


VOTES = st.lists(st.tuples(st.sampled_from(ORGS), st.booleans()), max_size=8)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(proposer=st.sampled_from(ORGS), votes=VOTES)
def test_tallies_follow_the_model(
    base: GovChain, proposer: str, votes: list[tuple[str, bool]]
) -> None:
    gov = fresh(base)
    threshold = effective_threshold(0, len(ORGS))
    payload = {"name": "c1", "code_hash": b"\1" * 32}
    gov.propose(proposer, "deploy_contract", payload)
    model: dict[str, bool] = {proposer: True}
    status = "open"
    for org, approve in votes:
        receipt = gov.vote(org, 0, approve)
        if status != "open":
            assert code_of(receipt) == 1616
            continue
        if org in model:
            assert code_of(receipt) == 1614
            continue
        assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
        model[org] = approve
        yes = sum(model.values())
        no = len(model) - yes
        if yes >= threshold:
            status = "executed"
        elif no > len(ORGS) - threshold:
            status = "rejected"
        names = [event.name for event in receipt.events]
        assert names[0] == "VoteCast"
        assert ("ProposalExecuted" in names) == (status == "executed" and yes == threshold)
    stored = gov.proposal(0)
    assert stored["status"] == status
    assert stored["votes"] == model
    assert stored["yes"] == sum(model.values())


def run_script(gov: GovChain) -> list[Any]:
    gov.propose("org1", "change_parameters", {"changes": {"block_txs_max": 9}})
    gov.propose("org2", "deploy_contract", {"name": "c1", "code_hash": b"\1" * 32})
    block = [
        gov.tx(gov.admins["org2"], "governance", "vote", {"id": 0, "approve": True}),
        gov.tx(gov.admins["org3"], "governance", "vote", {"id": 0, "approve": True}),
        gov.tx(gov.admins["org1"], "governance", "vote", {"id": 1, "approve": False}),
        gov.tx(gov.admins["org3"], "governance", "vote", {"id": 1, "approve": False}),
    ]
    result = gov.commit(block)
    return [result.receipts, result.state_writes]


def test_governance_is_deterministic(base: GovChain) -> None:
    first, second = fresh(base), fresh(base)
    assert run_script(first) == run_script(second)
    assert first.state == second.state
    assert first.proposal(0)["status"] == "executed"
    assert first.proposal(1)["status"] == "rejected"


def test_a_stricter_threshold_applies_to_later_proposals(base: GovChain) -> None:
    gov = fresh(base)
    _, stored = gov.approve("change_parameters", {"changes": {"governance_threshold": 4}})
    assert stored["status"] == "executed"
    gov.commit([])  # the new threshold is in force from the next block
    gov.propose("org1", "freeze_contract", {"name": "c"})
    assert gov.proposal(1)["threshold"] == 4
    _, stored = gov.approve("change_parameters", {"changes": {"governance_threshold": 1}})
    assert stored["status"] == "open"  # 3 of 4 is not enough any more


def test_effective_threshold_is_at_least_a_majority() -> None:
    assert [effective_threshold(0, n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert effective_threshold(4, 4) == 4
    assert effective_threshold(4, 3) == 3  # an organisation left: never above the count
    assert effective_threshold(2, 6) == 4  # never below a majority


def test_every_system_method_has_a_permission_rule() -> None:
    registry = default_registry()
    methods = {
        (name, method)
        for name, contract in registry.contracts.items()
        for method in contract.methods
    }
    assert methods == set(CALL_ROLES)


@pytest.mark.parametrize("role", list(Role))
def test_only_admins_may_propose_at_admission_and_execution(base: GovChain, role: Role) -> None:
    member = StateIdentityReader(base.state, base.suite).resolve(
        base.admins["org1"].public_key_bytes()
    )
    assert member is not None
    as_role = member.__class__(
        **{**{f: getattr(member, f) for f in member.__slots__}, "role": role}
    )
    refusal = admission_refusal(as_role, "governance", "propose", BLOCK_MS)
    if role is Role.ADMIN:
        assert refusal is None
        require_call_permitted(as_role, "governance", "propose")
    else:
        assert refusal is not None and refusal.kind is RefusalKind.ROLE
        with pytest.raises(CallNotPermitted):
            require_call_permitted(as_role, "governance", "propose")


def test_genesis_state_holds_parameters_and_validators(base: GovChain) -> None:
    from gongshi.execution.governance_state import (
        chain_params_at,
        observers,
        revocation_list,
        validator_set_at,
        validator_set_change,
    )

    genesis = base.network.genesis()
    assert chain_params_at(base.state, 0) == genesis.params
    assert chain_params_at(base.state, 10**6) == genesis.params
    validators = validator_set_at(base.state, 1).validators
    assert [v.public_key for v in validators] == [v.public_key for v in genesis.validators]
    assert validator_set_change(base.state, 0) is None
    assert observers(base.state) == ()
    assert not revocation_list(base.state).serials


def test_readers_need_governance_state_or_a_fallback(base: GovChain) -> None:
    from gongshi.execution.governance_errors import GovernanceNotInitialised
    from gongshi.execution.governance_state import chain_params_at

    genesis = base.network.genesis()
    assert chain_params_at({}, 5, fallback=genesis.params) == genesis.params
    with pytest.raises(GovernanceNotInitialised):
        chain_params_at({}, 5)
