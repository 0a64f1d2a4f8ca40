"""What a validator sends a lagging peer: committed blocks it still keeps (with their
finality certificates), then its tree's chain up to the requested block."""

from __future__ import annotations

from collections.abc import Iterable

from gongshi.consensus.messages import SyncedBlock, SyncRequest
from gongshi.consensus.tree import BlockTree


def sync_batch(
    committed: Iterable[SyncedBlock],
    tree: BlockTree,
    request: SyncRequest,
    high_qc_hash: bytes,
    limit: int,
) -> tuple[SyncedBlock, ...]:
    """At most `limit` blocks after `request.committed_height`, parents first."""
    batch = [
        synced for synced in committed if synced.proposal.block.height > request.committed_height
    ][:limit]
    target = tree.get(request.block_hash) if request.block_hash is not None else None
    if target is None:
        target = tree.get(high_qc_hash) or tree.root
    for node in tree.path_from_root(target):
        if len(batch) >= limit:
            break
        if node.proposal is not None:
            batch.append(SyncedBlock(proposal=node.proposal, certificate=None))
    return tuple(batch)
