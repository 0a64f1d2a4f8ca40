"""The simulated application: builds and re-executes blocks deterministically.

A block's payload names its builder, so two engines sharing a key (Twins) build different
blocks for the same parent and round; and, once its node has restarted, the builder's
incarnation, so a restarted leader builds another block for a round than before (as a real
node's block carries its time). The block hash commits to height, parent and payload;
validation recomputes it, which is how replicas reject a Byzantine leader's bad block. A
scenario may ask for validator-set changes (one per epoch), each decided by the block built
at a given height.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cbor2

from gongshi.consensus.types import Block, ValidatorSetChange

PAYLOAD_BYTES_MAX = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconfigPlan:
    """At `height`, the block decides that `public_keys` take over at `activation_height`;
    `then` is the next change (decided in the new epoch, at or after the activation)."""

    height: int
    activation_height: int
    public_keys: tuple[bytes, ...]
    then: ReconfigPlan | None = None

    def at(self, height: int) -> ReconfigPlan | None:
        """The change the block at `height` decides, if any (the chain is at most a few)."""
        plan: ReconfigPlan | None = self
        while plan is not None and plan.height != height:
            plan = plan.then
        return plan


def block_hash_of(height: int, parent_hash: bytes, payload: bytes) -> bytes:
    material = cbor2.dumps((height, parent_hash, payload))
    return hashlib.blake2b(material, digest_size=32).digest()


def build_block(
    height: int,
    parent_hash: bytes,
    round_number: int,
    builder: int,
    plan: ReconfigPlan | None,
    incarnation: int = 0,
) -> tuple[Block, ValidatorSetChange | None]:
    change = None
    decided = plan.at(height) if plan is not None else None
    if decided is not None:
        change = ValidatorSetChange(
            public_keys=decided.public_keys, activation_height=decided.activation_height
        )
    keys = list(change.public_keys) if change is not None else None
    activation = change.activation_height if change is not None else None
    fields: tuple[object, ...] = (round_number, builder, keys, activation)
    if incarnation:  # absent before the first restart: scenarios replay as they always did
        fields += (incarnation,)
    payload = cbor2.dumps(fields)
    block = Block(
        height=height,
        parent_hash=parent_hash,
        payload=payload,
        block_hash=block_hash_of(height, parent_hash, payload),
    )
    return block, change


def validate_block(block: Block) -> tuple[bool, ValidatorSetChange | None]:
    """Re-execute: the hash must match and the payload must parse. Returns (valid, change)."""
    if len(block.payload) > PAYLOAD_BYTES_MAX or block.nil:
        return False, None
    if block_hash_of(block.height, block.parent_hash, block.payload) != block.block_hash:
        return False, None
    try:
        fields = cbor2.loads(block.payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError):
        return False, None
    if not isinstance(fields, list) or len(fields) not in (4, 5):
        return False, None
    keys, activation = fields[2], fields[3]
    if keys is None:
        return True, None
    if not isinstance(keys, list) or not isinstance(activation, int):
        return False, None
    return True, ValidatorSetChange(public_keys=tuple(keys), activation_height=activation)


def genesis_block() -> Block:
    payload = b"gongshi-sim-genesis"
    parent = bytes(32)
    return Block(
        height=0, parent_hash=parent, payload=payload, block_hash=block_hash_of(0, parent, payload)
    )
