"""Peer message bodies: anything but a canonical record is refused with one error type; the
safety state file survives a save/load and a corrupt file is refused."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus import Justify, SafetyState, SyncRequest
from gongshi.consensus.types import Phase
from gongshi.node.errors import MalformedPeerMessage, SafetyStateCorrupt
from gongshi.node.safety import SafetyStore
from gongshi.node.wire import (
    BlockRequest,
    ConsensusFrame,
    ConsensusKind,
    Status,
    TxBatch,
    decode_body,
    decode_consensus,
    encode_consensus,
)


def safety_state(round_number: int) -> SafetyState:
    qc = QuorumCertificate(
        phase=int(Phase.VOTE),
        height=3,
        round=round_number,
        block_hash=bytes(range(32)),
        signers=(0, 1, 2),
        signatures=(b"a" * 64, b"b" * 64, b"c" * 64),
    )
    return SafetyState(epoch=0, last_voted_round=round_number, high_qc=Justify(epoch=0, qc=qc))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_garbage_is_refused_with_one_error(data: bytes) -> None:
    for decode in (
        decode_consensus,
        lambda body: decode_body(Status, body),
        lambda body: decode_body(TxBatch, body),
        lambda body: decode_body(BlockRequest, body),
    ):
        with contextlib.suppress(MalformedPeerMessage):
            decode(data)


def test_a_frame_whose_message_does_not_match_its_kind_is_refused() -> None:
    request = SyncRequest(epoch=0, committed_height=5, block_hash=None)
    body = encode_consensus(request)
    assert decode_consensus(body) == request
    frame = ConsensusFrame.decode(body)
    mislabelled = ConsensusFrame(kind=ConsensusKind.VOTE, message=frame.message).encode()
    with pytest.raises(MalformedPeerMessage):
        decode_consensus(mislabelled)
    with pytest.raises(MalformedPeerMessage):
        decode_consensus(body[:-1])


def test_safety_state_round_trips_and_replaces_atomically(tmp_path: Path) -> None:
    store = SafetyStore(tmp_path)
    assert store.load() is None
    store.save(safety_state(4))
    store.save(safety_state(9))
    assert store.load() == safety_state(9)
    assert [p.name for p in tmp_path.iterdir()] == [store.path.name]  # no temporary left


def test_corrupt_safety_state_is_refused(tmp_path: Path) -> None:
    store = SafetyStore(tmp_path)
    store.save(safety_state(2))
    store.path.write_bytes(store.path.read_bytes()[:-3])
    with pytest.raises(SafetyStateCorrupt):
        store.load()
