"""Execution: applies an ordered block to state deterministically.

    result = execute_block(prepared_txs, context=BlockContext(...), environment=env,
                           state=parent_state, nonces=nonce_index,
                           identities=StateIdentityReader(parent_state, suite))
    result.receipts, result.state_writes, result.next_nonces

Block validity rules (`rules.py`), dispatch to system contracts (`registry.py`) and to
deployed Python contracts (`contract_dispatch.py`, `contract_host.py`; code store
`contract_store.py`), gas (`gas.py`), the `identity` and `notary` contracts, the genesis state
and the proposer's `build_block_body`. docs/execution.md has the gas table and the rules.
"""

from gongshi.execution.builder import BlockBody, build_block_body
from gongshi.execution.builtin import default_registry
from gongshi.execution.context import BlockContext, ReadCall, Sender, WriteCall
from gongshi.execution.executor import (
    BlockResult,
    ExecutionEnvironment,
    execute_block,
    execute_transaction,
)
from gongshi.execution.gas import DEFAULT_GAS_SCHEDULE, GasMeter, GasSchedule
from gongshi.execution.genesis import genesis_members, genesis_state_writes
from gongshi.execution.identities import (
    CachedIdentityReader,
    IdentityReader,
    MemberDirectory,
    StateIdentityReader,
)
from gongshi.execution.identity_records import MemberIdentity
from gongshi.execution.parallel import (
    ParallelMap,
    first_invalid_signature,
    require_valid_signatures,
    verify_signatures,
)
from gongshi.execution.permissions import ROLE_MAY_TRANSACT, sender_refusal
from gongshi.execution.prepared import PreparedTransaction
from gongshi.execution.registry import (
    ContractRegistry,
    ReadMethod,
    SystemContract,
    WriteMethod,
    query,
)
from gongshi.execution.rules import BlockChecker, BlockLimits
from gongshi.execution.state import JournaledState, MemoryNonces, NonceReader, StateReader

__all__ = [
    "DEFAULT_GAS_SCHEDULE",
    "ROLE_MAY_TRANSACT",
    "BlockBody",
    "BlockChecker",
    "BlockContext",
    "BlockLimits",
    "BlockResult",
    "CachedIdentityReader",
    "ContractRegistry",
    "ExecutionEnvironment",
    "GasMeter",
    "GasSchedule",
    "IdentityReader",
    "JournaledState",
    "MemberDirectory",
    "MemberIdentity",
    "MemoryNonces",
    "NonceReader",
    "ParallelMap",
    "PreparedTransaction",
    "ReadCall",
    "ReadMethod",
    "Sender",
    "StateIdentityReader",
    "StateReader",
    "SystemContract",
    "WriteCall",
    "WriteMethod",
    "build_block_body",
    "default_registry",
    "execute_block",
    "execute_transaction",
    "first_invalid_signature",
    "genesis_members",
    "genesis_state_writes",
    "query",
    "require_valid_signatures",
    "sender_refusal",
    "verify_signatures",
]
