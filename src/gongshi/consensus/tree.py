"""The tree of blocks above the last committed block (the root).

Pure bookkeeping: no signatures, no I/O. The engine inserts a block only after checking its
proposal, and only under a parent already in the tree, so every node's ancestors are present.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum

from gongshi.consensus.messages import Proposal
from gongshi.consensus.types import Block, ValidatorSetChange


class Status(IntEnum):
    PENDING = 0  # waiting for its parent to be validated
    REQUESTED = 1  # ValidateBlock sent, no answer yet
    VALID = 2
    INVALID = 3


class BlockNode:
    """One block in the tree. Mutable bookkeeping; the block and proposal are immutable."""

    __slots__ = (
        "block",
        "change",
        "children",
        "parent",
        "pending_change",
        "proposal",
        "round",
        "status",
    )

    def __init__(
        self, block: Block, round_number: int, proposal: Proposal | None, parent: BlockNode | None
    ) -> None:
        self.block = block
        self.round = round_number
        self.proposal = proposal
        self.parent = parent
        self.children: list[BlockNode] = []
        self.status = Status.PENDING
        # The change this block decides (from the application's validation), if any.
        self.change: ValidatorSetChange | None = None
        # The change in force on this fork: decided by this block or an ancestor in the epoch.
        # Invariant: set when status becomes VALID, from the parent's or this block's change.
        self.pending_change: ValidatorSetChange | None = None

    @property
    def past_epoch_end(self) -> bool:
        """True if this block is the epoch's last block or a nil block after it: its children
        must be nil blocks."""
        change = self.pending_change
        return change is not None and self.block.height >= change.activation_height - 1


class BlockTree:
    """Blocks above the committed root, keyed by block hash; bounded by `blocks_max`."""

    def __init__(self, root: BlockNode, blocks_max: int) -> None:
        assert blocks_max > 0
        root.status = Status.VALID
        self.root = root
        self.blocks_max = blocks_max
        self.nodes: dict[bytes, BlockNode] = {root.block.block_hash: root}

    def __len__(self) -> int:
        return len(self.nodes)

    def get(self, block_hash: bytes) -> BlockNode | None:
        return self.nodes.get(block_hash)

    def insert(self, block: Block, round_number: int, proposal: Proposal) -> BlockNode | None:
        """Add `block` under its parent; None if the parent is unknown or the tree is full."""
        parent = self.nodes.get(block.parent_hash)
        if parent is None or len(self.nodes) >= self.blocks_max:
            return None
        assert block.block_hash not in self.nodes
        node = BlockNode(block, round_number, proposal, parent)
        parent.children.append(node)
        self.nodes[block.block_hash] = node
        return node

    def path_from_root(self, node: BlockNode) -> list[BlockNode]:
        """The nodes after the root up to and including `node`, oldest first."""
        path: list[BlockNode] = []
        current: BlockNode | None = node
        while current is not None and current is not self.root:
            path.append(current)
            current = current.parent
        if current is None:
            return []  # not a descendant of the root
        path.reverse()
        return path

    def commit_segment(self, node: BlockNode) -> list[BlockNode]:
        """The blocks a quorum of votes for `node` finalises, newest first.

        2-chain rule: a certified block whose certified child is from the very next round is
        final. So votes for `node` finalise its parent P if P.round + 1 == node.round, and with
        P every ancestor of P back to (not including) the previous block finalised this way,
        i.e. the first ancestor whose own child follows it in consecutive rounds. The segment
        depends only on the chain, so all honest voters compute the same one. Nil blocks are
        never committed and get no signature.
        """
        parent = node.parent
        if parent is None or parent.round + 1 != node.round:
            return []
        segment: list[BlockNode] = []
        current: BlockNode = parent
        for _ in range(len(self.nodes)):
            if current is self.root:
                break
            if not current.block.nil:
                segment.append(current)
            below = current.parent
            if below is None or current.round == below.round + 1:
                break
            current = below
        return segment

    def descendants(self, node: BlockNode) -> Iterator[BlockNode]:
        stack = list(node.children)
        while stack:
            current = stack.pop()
            yield current
            stack.extend(current.children)

    def reroot(self, new_root: BlockNode) -> list[BlockNode]:
        """Make `new_root` the root, dropping every block that does not descend from it.
        Returns the dropped nodes."""
        kept = {new_root.block.block_hash: new_root}
        for node in self.descendants(new_root):
            kept[node.block.block_hash] = node
        dropped = [node for block_hash, node in self.nodes.items() if block_hash not in kept]
        new_root.parent = None
        self.root = new_root
        self.nodes = kept
        return dropped
