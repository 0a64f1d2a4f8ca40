"""The block tree's commit segments: which blocks a quorum of votes finalises."""

from __future__ import annotations

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.messages import Proposal
from gongshi.consensus.tree import BlockNode, BlockTree
from gongshi.consensus.types import Block, Justify


def block(height: int, name: int, parent: int, nil: bool = False) -> Block:
    return Block(
        height=height,
        parent_hash=bytes([parent]) * 32,
        payload=b"",
        block_hash=bytes([name]) * 32,
        nil=nil,
    )


def proposal_for(item: Block, round_number: int) -> Proposal:
    qc = QuorumCertificate(
        phase=1, height=0, round=0, block_hash=item.parent_hash, signers=(), signatures=()
    )
    return Proposal(
        epoch=0,
        round=round_number,
        proposer=0,
        block=item,
        justify=Justify(epoch=0, qc=qc),
        timeout_certificate=None,
        signature=b"s",
    )


def chain(rounds: list[int], nil_from: int | None = None) -> tuple[BlockTree, list[BlockNode]]:
    tree = BlockTree(BlockNode(block(0, 0, 255), 0, None, None), blocks_max=64)
    nodes = []
    for position, round_number in enumerate(rounds, start=1):
        nil = nil_from is not None and position >= nil_from
        height = min(position, nil_from - 1) if nil and nil_from is not None else position
        item = block(height, position, position - 1, nil)
        node = tree.insert(item, round_number, proposal_for(item, round_number))
        assert node is not None
        nodes.append(node)
    return tree, nodes


def heights(nodes: list[BlockNode]) -> list[int]:
    return [node.block.height for node in nodes]


def test_consecutive_rounds_finalise_exactly_the_parent() -> None:
    tree, nodes = chain([1, 2, 3, 4])
    assert tree.commit_segment(nodes[0]) == []  # parent is the (committed) root
    assert heights(tree.commit_segment(nodes[1])) == [1]
    assert heights(tree.commit_segment(nodes[3])) == [3]


def test_after_a_timeout_the_segment_reaches_back_to_the_previous_commit_point() -> None:
    # rounds 1, 2, (3 timed out), 4, 5: the vote for 5 finalises 4 and 2 (1 was finalised by 2)
    tree, nodes = chain([1, 2, 4, 5])
    assert tree.commit_segment(nodes[2]) == []  # 2 -> 4 is not consecutive
    assert heights(tree.commit_segment(nodes[3])) == [3, 2]


def test_nil_blocks_are_never_in_a_segment() -> None:
    tree, nodes = chain([1, 2, 3, 4], nil_from=3)
    assert heights(tree.commit_segment(nodes[2])) == [2]
    assert tree.commit_segment(nodes[3]) == []


def test_reroot_drops_everything_not_descending_from_the_new_root() -> None:
    tree, nodes = chain([1, 2, 3])
    fork = block(2, 9, 1)
    tree.insert(fork, 5, proposal_for(fork, 5))
    dropped = tree.reroot(nodes[1])
    assert {node.block.block_hash[0] for node in dropped} == {0, 1, 9}
    assert tree.root is nodes[1] and len(tree) == 2
    assert tree.path_from_root(nodes[2]) == [nodes[2]]
