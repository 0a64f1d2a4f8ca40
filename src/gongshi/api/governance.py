"""The governance reads of the API: proposals, chain parameters, validators, organisations.

Every read is of the state at the committed head. Proposals are seen as a block built next
would see them (`expired` is evaluated at head + 1, docs/governance.md); the parameters and
validator set "in force" are those of the next block, and later scheduled entries are listed
apart. `gov_proposal` also returns the state read (with its proof) of the proposal's stored
encoding, so a client can check the proposal instead of trusting the readable copy.
"""

from __future__ import annotations

from typing import Any

from gongshi.api.epochs import node_json
from gongshi.api.errors import GovProposalNotFound
from gongshi.api.service import ChainService
from gongshi.api.wire import Json, to_hex, value_to_json
from gongshi.execution.governance_records import (
    NAMESPACE,
    ParamsEntry,
    ValidatorSetEntry,
    proposal_key,
)
from gongshi.execution.governance_state import (
    governance_read,
    in_force,
    observers,
    params_schedule,
    validator_schedule,
)
from gongshi.execution.identity_records import NAMESPACE as IDENTITY_NAMESPACE
from gongshi.execution.identity_records import (
    ORGANISATIONS_KEY,
    REGULATOR_ORGANISATIONS_KEY,
    authority_key,
    decode_names,
)
from gongshi.storage.schema import state_key

ORGANISATIONS_MAX = 1000  # organisations listed by one gov_organisations call


def gov_proposal(service: ChainService, proposal_id: int) -> Json:
    """Proposal `proposal_id` with its status as of head + 1, and the proven state read of
    its stored encoding; GovProposalNotFound if there is none."""
    head = service.ledger.committed_height
    assert head is not None, "the API serves a ledger with a committed genesis"
    args = {"id": proposal_id, "height": head + 1}
    found = service.contract_query(NAMESPACE, "proposal", args, head)
    if found["result"] is None:
        raise GovProposalNotFound(f"no governance proposal {proposal_id} at height {head}")
    state = service.state_get(NAMESPACE, proposal_key(proposal_id), found["height"])
    return {"height": found["height"], "proposal": found["result"], "state": state}


def gov_proposals(service: ChainService, status: str | None, start: int, limit: int) -> Json:
    """A page of proposals by id from `start` (statuses as of head + 1)."""
    head = service.ledger.committed_height
    assert head is not None, "the API serves a ledger with a committed genesis"
    args: dict[str, Any] = {"start": start, "limit": limit, "height": head + 1}
    if status is not None:
        args["status"] = status
    found = service.contract_query(NAMESPACE, "proposals", args, head)
    return {"height": found["height"], **found["result"]}


def _params_json(entry: ParamsEntry) -> Json:
    return {"effective_height": entry.effective_height, "params": value_to_json(entry.params)}


def gov_params(service: ChainService) -> Json:
    """The chain parameters in force for the next block, and those scheduled after it."""
    view = service.ledger.state_reader()
    following = view.height + 1
    schedule = params_schedule(governance_read(view))
    current = in_force(schedule, following)
    return {
        "height": view.height,
        "in_force": _params_json(current),
        "scheduled": [
            _params_json(entry) for entry in schedule if entry.effective_height > following
        ],
    }


def _set_json(entry: ValidatorSetEntry) -> Json:
    return {
        "announce_height": entry.announce_height,
        "activation_height": entry.activation_height,
        "validators": [node_json(node) for node in entry.validators],
    }


def gov_validators(service: ChainService) -> Json:
    """The validator set certifying the next block, the sets pending after it, and the
    observer nodes."""
    view = service.ledger.state_reader()
    following = view.height + 1
    schedule = validator_schedule(governance_read(view))
    current = schedule[0]
    for entry in schedule:  # bounded: at most a few pending entries
        if entry.activation_height <= following:
            current = entry
    return {
        "height": view.height,
        "in_force": _set_json(current),
        "pending": [_set_json(e) for e in schedule if e.activation_height > following],
        "observers": [node_json(node) for node in observers(view)],
    }


def gov_organisations(service: ChainService) -> Json:
    """The member organisations (in admission order), whether each may issue regulator
    certificates, and its CA certificate (DER)."""
    view = service.ledger.state_reader()

    def read(key: bytes) -> bytes | None:
        return view.get(state_key(IDENTITY_NAMESPACE, key))

    names = decode_names(read(ORGANISATIONS_KEY), "organisations")[:ORGANISATIONS_MAX]
    regulators = set(decode_names(read(REGULATOR_ORGANISATIONS_KEY), "regulators"))
    listed = []
    for name in names:
        ca_certificate = read(authority_key(name))
        listed.append(
            {
                "name": name,
                "regulator": name in regulators,
                "ca_certificate": None if ca_certificate is None else to_hex(ca_certificate),
            }
        )
    return {"height": view.height, "organisations": listed}
