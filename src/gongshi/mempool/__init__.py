"""The mempool: admission of signed transactions and their ordering for blocks.

    pool = Mempool(config=MempoolConfig.from_params(params_in_force), suite=suite,
                   nonces=ledger_nonces, identities=StateIdentityReader(latest, suite),
                   head=ChainHead(height=h, timestamp_ms=t), parallel=ParallelMap(...),
                   contract_calls=CachedContractCalls(ledger))  # deployed contracts' refusals
    pool.admit(raw)                     # or checker.check_batch in threads + add_checked
    pool.reap(max_txs=..., max_bytes=..., max_gas=...)
    pool.on_commit(height=..., timestamp_ms=..., transactions=block_prepared)

docs/mempool.md describes the rules, the errors and which methods are safe from which thread.
"""

from gongshi.mempool.admission import AdmissionChecker, CheckResult
from gongshi.mempool.config import MempoolConfig
from gongshi.mempool.contract_calls import (
    CachedContractCalls,
    ContractCallReader,
    StateContractCalls,
)
from gongshi.mempool.pool import Admitted, ChainHead, CommitReport, Mempool, MempoolStats

__all__ = [
    "AdmissionChecker",
    "Admitted",
    "CachedContractCalls",
    "ChainHead",
    "CheckResult",
    "CommitReport",
    "ContractCallReader",
    "Mempool",
    "MempoolConfig",
    "MempoolStats",
    "StateContractCalls",
]
