"""Scenarios signed and verified with the real `intl` suite (Ed25519) instead of MACs."""

from __future__ import annotations

import logging

import pytest

from gongshi.consensus.signing import Signer, SuiteSigner, SuiteVerifier
from gongshi.consensus.sim.cluster import run_scenario
from gongshi.consensus.sim.options import Behaviour, SimOptions

crypto = pytest.importorskip("gongshi.crypto")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scenarios_with_the_intl_suite(seed: int) -> None:
    logging.getLogger("gongshi.consensus").setLevel(logging.ERROR)
    suite = crypto.get_suite("intl")
    keys: dict[int, Signer] = {}

    def key_factory(index: int) -> Signer:
        if index not in keys:
            keys[index] = SuiteSigner(suite.generate_private_key())
        return keys[index]

    options = SimOptions(
        seed=seed,
        validators=4,
        byzantine=((seed % 4, Behaviour.EQUIVOCATE),),
        loss_permille=30,
        safety_ms=400,
    )
    result = run_scenario(
        seed, options=options, key_factory=key_factory, verifier=SuiteVerifier(suite)
    )
    assert result.ok, result.violations
    assert min(result.heights) >= 3
