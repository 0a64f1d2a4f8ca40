"""What a client knows about a chain without asking any node: the network directory.

`NetworkInfo.load(dir)` reads `dir/genesis.toml` (as `gongshi init` / `gongshi up` write
it): the suite, the chain id, the genesis hash and the validator set whose signatures make a
block final, and each validator's API address. Proofs are verified against this, never
against what a node says about itself: the validators here are epoch 0's, and later sets are
trusted only from evidence checked against them (`sdk/epochs.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gongshi.consensus import ValidatorSet
from gongshi.crypto import Suite, get_suite
from gongshi.node.genesis import Genesis, genesis_hash, load_genesis
from gongshi.sdk.errors import SdkError

GENESIS_FILE = "genesis.toml"
DEFAULT_NETWORK_DIR = Path("localnet")
# The genesis validators are epoch 0's; later sets are proven (`sdk/epochs.py`), never read
# from a node's word.
GENESIS_EPOCH = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkInfo:
    directory: Path
    genesis: Genesis
    suite: Suite
    genesis_hash: bytes
    validators: ValidatorSet

    @classmethod
    def load(cls, directory: Path | str = DEFAULT_NETWORK_DIR) -> NetworkInfo:
        directory = Path(directory)
        genesis = load_genesis(directory / GENESIS_FILE)
        return cls.from_genesis(genesis, directory)

    @classmethod
    def from_genesis(cls, genesis: Genesis, directory: Path) -> NetworkInfo:
        return cls(
            directory=directory,
            genesis=genesis,
            suite=get_suite(genesis.suite),
            genesis_hash=genesis_hash(genesis),
            validators=ValidatorSet(
                epoch=GENESIS_EPOCH, public_keys=tuple(v.public_key for v in genesis.validators)
            ),
        )

    @property
    def chain_id(self) -> str:
        return self.genesis.params.chain_id

    def node_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.genesis.validators)

    def api_url(self, node: str | int | None = None) -> str:
        """The HTTP URL of a validator's API: by name (`node2`), by 1-based number (`2`),
        or the first node by default."""
        validators = self.genesis.validators
        if node is None:
            chosen = validators[0]
        elif isinstance(node, int) or node.isdigit():
            number = int(node)
            if not 1 <= number <= len(validators):
                raise SdkError(f"node number {number} is not in 1..{len(validators)}")
            chosen = validators[number - 1]
        else:
            found = [v for v in validators if v.name == node]
            if not found:
                raise SdkError(
                    f"no node {node!r} in the network (nodes: {', '.join(self.node_names())})"
                )
            chosen = found[0]
        return f"http://{chosen.api_address}"
