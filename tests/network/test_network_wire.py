"""Pure parts of the transport: framing, envelopes, outbound queues, back-off, dial rule."""

from __future__ import annotations

import random
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec import encode_value
from gongshi.errors import ConfigError
from gongshi.network.backoff import BackoffPolicy
from gongshi.network.errors import FrameTooLarge, MalformedFrame
from gongshi.network.framing import FRAME_HEADER_BYTES, encode_frame, frame_length
from gongshi.network.messages import (
    LANE_OF_KIND,
    Envelope,
    Hello,
    Lane,
    MessageKind,
    decode_payload,
)
from gongshi.network.peers import (
    PeerInfo,
    dial_targets,
    index_peers,
    keep_new_connection,
    should_dial,
)
from gongshi.network.queues import LaneLimits, OutboundQueue
from gongshi.node.config_fields import HostPort

FRAME_MAX = 4096


@given(st.binary(max_size=FRAME_MAX))
def test_frame_header_announces_the_payload_length(payload: bytes) -> None:
    frame = encode_frame(payload, frame_bytes_max=FRAME_MAX)
    header, rest = frame[:FRAME_HEADER_BYTES], frame[FRAME_HEADER_BYTES:]
    assert frame_length(header, frame_bytes_max=FRAME_MAX) == len(payload)
    assert rest == payload


@given(st.integers(min_value=FRAME_MAX + 1, max_value=2**32 - 1))
def test_an_oversized_header_is_refused_before_its_payload(length: int) -> None:
    with pytest.raises(FrameTooLarge) as raised:
        frame_length(length.to_bytes(4, "big"), frame_bytes_max=FRAME_MAX)
    assert raised.value.size == length


def test_sending_an_oversized_payload_is_refused() -> None:
    with pytest.raises(FrameTooLarge):
        encode_frame(bytes(FRAME_MAX + 1), frame_bytes_max=FRAME_MAX)


@given(st.sampled_from(MessageKind), st.binary(max_size=2000))
def test_envelope_round_trips(kind: MessageKind, body: bytes) -> None:
    payload = Envelope(kind=kind, body=body).encode()
    decoded = decode_payload(Envelope, payload, size_max=FRAME_MAX)
    assert (decoded.kind, decoded.body) == (kind, body)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_payloads_are_malformed_frames_never_other_errors(payload: bytes) -> None:
    try:
        envelope = decode_payload(Envelope, payload, size_max=FRAME_MAX)
    except MalformedFrame:
        return
    assert envelope.encode() == payload  # only a canonical envelope gets through


@pytest.mark.parametrize(
    "value",
    [
        {"kind": 99, "body": b"x"},  # unknown kind
        {"kind": 2},  # no body
        {"kind": 2, "body": b"x", "extra": 1},  # unknown field
        {"kind": "consensus", "body": b"x"},  # wrong type
        [2, b"x"],  # not a map
    ],
)
def test_well_formed_cbor_that_is_not_an_envelope_is_malformed(value: object) -> None:
    with pytest.raises(MalformedFrame):
        decode_payload(Envelope, encode_value(value), size_max=FRAME_MAX)


def test_an_envelope_over_the_frame_limit_is_too_large() -> None:
    payload = Envelope(kind=MessageKind.CONSENSUS, body=bytes(FRAME_MAX)).encode()
    with pytest.raises(FrameTooLarge):
        decode_payload(Envelope, payload, size_max=FRAME_MAX)


def test_hello_of_the_wrong_type_is_malformed() -> None:
    with pytest.raises(MalformedFrame):
        decode_payload(Hello, Envelope(kind=1, body=b"").encode(), size_max=256)


def test_consensus_and_sync_are_reliable_gossip_and_status_are_not() -> None:
    reliable = {kind for kind, lane in LANE_OF_KIND.items() if lane is Lane.RELIABLE}
    assert MessageKind.CONSENSUS in reliable and MessageKind.SYNC_RESPONSE in reliable
    assert MessageKind.TX_FETCH_RESPONSE in reliable
    assert MessageKind.TX_GOSSIP not in reliable and MessageKind.STATUS not in reliable


# --- outbound queue against a model ----------------------------------------------------

GOSSIP = LaneLimits(frames_max=5, bytes_max=100)
RELIABLE = LaneLimits(frames_max=4, bytes_max=80)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.sampled_from(Lane), st.integers(1, 120)),
        st.tuples(st.just("pop"), st.just(Lane.GOSSIP), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(operations)
def test_outbound_queue_matches_a_model_and_stays_bounded(ops: list[tuple[str, Lane, int]]) -> None:
    queue = OutboundQueue(gossip=GOSSIP, reliable=RELIABLE)
    model: dict[Lane, deque[bytes]] = {Lane.GOSSIP: deque(), Lane.RELIABLE: deque()}
    limits = {Lane.GOSSIP: GOSSIP, Lane.RELIABLE: RELIABLE}
    counter = 0
    for op, lane, size in ops:
        if op == "pop":
            expected = (model[Lane.RELIABLE] or model[Lane.GOSSIP] or deque([None])).popleft()
            assert queue.pop() == expected
            continue
        counter += 1
        frame = counter.to_bytes(4, "big") + bytes(size - 4 if size > 4 else 0)
        frame = frame[:size]
        result = queue.push(lane, frame)
        lane_model, limit = model[lane], limits[lane]

        def fits(items: deque[bytes], limit: LaneLimits = limit, frame: bytes = frame) -> bool:
            used = sum(map(len, items))
            return len(items) < limit.frames_max and used + len(frame) <= limit.bytes_max

        if fits(lane_model):
            lane_model.append(frame)
            assert result.accepted and result.dropped == 0
        elif lane is Lane.RELIABLE or len(frame) > limit.bytes_max:
            assert not result.accepted
        else:
            dropped = 0
            while not fits(lane_model):
                lane_model.popleft()
                dropped += 1
            lane_model.append(frame)
            assert result.accepted and result.dropped == dropped >= 1
        for each in Lane:
            assert queue.frames_queued(each) == len(model[each]) <= limits[each].frames_max
            assert queue.bytes_queued(each) == sum(map(len, model[each])) <= limits[each].bytes_max


def test_reliable_frames_go_before_gossip() -> None:
    queue = OutboundQueue(gossip=GOSSIP, reliable=RELIABLE)
    queue.push(Lane.GOSSIP, b"g1")
    queue.push(Lane.RELIABLE, b"r1")
    queue.push(Lane.GOSSIP, b"g2")
    assert [queue.pop(), queue.pop(), queue.pop(), queue.pop()] == [b"r1", b"g1", b"g2", None]
    assert queue.clear() == 0


# --- back-off --------------------------------------------------------------------------


@given(st.integers(1, 1000), st.integers(0, 100_000), st.integers(0, 64), st.integers())
def test_backoff_is_jittered_within_an_exponential_capped_ceiling(
    delay_min: int, extra: int, attempt: int, seed: int
) -> None:
    policy = BackoffPolicy(delay_min_ms=delay_min, delay_max_ms=delay_min + extra)
    ceiling = min(delay_min * 2**attempt, delay_min + extra)
    assert policy.ceiling_ms(attempt) == ceiling
    delay = policy.delay_ms(attempt, random.Random(seed))
    assert (ceiling + 1) // 2 <= delay <= ceiling
    assert delay == policy.delay_ms(attempt, random.Random(seed))  # seeded: reproducible


def test_backoff_jitter_spreads_nodes_apart() -> None:
    policy = BackoffPolicy(delay_min_ms=100, delay_max_ms=10_000)
    delays = {policy.delay_ms(3, random.Random(seed)) for seed in range(20)}
    assert len(delays) > 5


# --- who dials whom --------------------------------------------------------------------

keys = st.binary(min_size=32, max_size=32)
address = HostPort(host="127.0.0.1", port=1)


@given(keys, keys, st.booleans(), st.booleans())
def test_exactly_one_side_dials_when_either_can(
    key_a: bytes, key_b: bytes, a_listed: bool, b_listed: bool
) -> None:
    if key_a == key_b:
        return
    peers = index_peers(
        [
            PeerInfo(public_key=key_a, name="a", address=address if a_listed else None),
            PeerInfo(public_key=key_b, name="b", address=address if b_listed else None),
        ]
    )
    a_dials = key_b in dial_targets(key_a, peers)
    b_dials = key_a in dial_targets(key_b, peers)
    if a_listed or b_listed:
        assert a_dials != b_dials
    else:
        assert not a_dials and not b_dials


@given(keys, keys, st.booleans(), st.booleans())
def test_both_sides_keep_the_same_of_two_connections(
    key_a: bytes, key_b: bytes, first_dialled_by_a: bool, second_dialled_by_a: bool
) -> None:
    """a and b each hold connection 1 and then get connection 2; they must agree on which
    survives (whatever their dial rule says)."""
    if key_a == key_b:
        return
    peer_a = PeerInfo(public_key=key_a, name="a", address=address)
    peer_b = PeerInfo(public_key=key_b, name="b", address=address)
    a_rule = should_dial(key_a, True, peer_b)
    b_rule = should_dial(key_b, True, peer_a)

    def survivor(rule: bool, dialled_first: bool, dialled_second: bool) -> int:
        keep = keep_new_connection(
            existing_preferred=dialled_first == rule, new_preferred=dialled_second == rule
        )
        return 2 if keep else 1

    seen_by_a = survivor(a_rule, first_dialled_by_a, second_dialled_by_a)
    seen_by_b = survivor(b_rule, not first_dialled_by_a, not second_dialled_by_a)
    assert seen_by_a == seen_by_b


def test_a_repeated_key_in_the_allowed_set_is_a_config_error() -> None:
    peer = PeerInfo(public_key=b"k" * 32, name="a", address=None)
    with pytest.raises(ConfigError):
        index_peers([peer, peer])
