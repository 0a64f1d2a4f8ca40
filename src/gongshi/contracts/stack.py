"""Room on the interpreter stack for the runtime's own bounds to strike first.

Where a RecursionError strikes depends on how deep the caller's stack already is, not on the
contract, so nodes could disagree on it. Parsing a statement and running the deepest
contract take a bounded number of Python frames; before either, the recursion limit is
raised if the caller leaves less than that free (it is never lowered)."""

from __future__ import annotations

import sys

from gongshi.contracts.limits import PYTHON_FRAMES_NEEDED


def ensure_stack_headroom() -> None:
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    needed = depth + PYTHON_FRAMES_NEEDED
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)
