"""Same calls, same bytes: results, events, gas and state writes do not depend on the
process (string hash seed), including for calls that fail halfway and are reverted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    '''
    import hashlib
    from gongshi.codec import encode_value
    from gongshi.contracts.testing import MemoryChain
    from gongshi.execution.gas import GasMeter

    SOURCE = """
    from gongshi.contract import Decimal, Map, Value, emit, export, require

    ledger = Map(key=str)
    total = Value(default=0)

    @export
    def churn(n, fail_at):
        names = {}
        for i in range(n):
            names["k" + str(i * 7919 % n)] = Decimal(i) / 7 + 2 ** (i * 37 % 4000)
        big = 1
        for key, value in names.items():
            big = (big * 6364136223846793005 + len(key)) % (2 ** 4000 + 1)
            ledger[key] = [value, big % 1000003, {key: (i, str(value)) for i in range(3)}]
            require(len(key) != fail_at, "failed halfway")
        total.set(total.get() + big % 99991)
        emit("Churned", keys=sorted(names)[:5], total=total.get())
        return [str(sum([v for v in names.values()], Decimal(0))), big % 65537]
    """

    chain = MemoryChain()
    chain.deploy("c", SOURCE)
    digest = hashlib.sha256()
    for n, fail_at in ((40, -1), (60, 3), (25, -1)):
        meter = GasMeter(50_000_000)
        try:
            outcome = ["ok", chain.invoke("c", "churn", {"n": n, "fail_at": fail_at}, meter=meter)]
        except Exception as error:
            outcome = ["error", type(error).__name__, str(error)]
        digest.update(repr((outcome, meter.used)).encode())
    chain.journal.commit(1)
    for key, value in chain.journal.writes().items():
        digest.update(key + b"=" + (value or b"-"))
    digest.update(encode_value(tuple(name for _, name, _ in chain.events)))
    print(digest.hexdigest(), len(chain.journal.writes()))
    '''
)


def run_with_seed(seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_two_processes_with_different_hash_seeds_agree() -> None:
    first = run_with_seed("1")
    second = run_with_seed("2")
    assert first == second
    # Keys k0..k39 (the third call's k0..k24 overwrite) and the total: the second call wrote
    # k0..k59 before failing, and all of it was reverted.
    assert int(first.split()[1]) == 40 + 1
