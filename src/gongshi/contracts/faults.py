"""Internal failures raised inside running contract code, before the line is known.

Helpers raise these; `LoadedContract.invoke` turns them into the public `CallFailed` errors
with the contract line that was running. They never leave the runtime.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` as valid Unicode: a lone surrogate (legal in a Python str, from contract literals
    like "\\ud800") becomes its `\\u` escape. Messages end up in receipts, which are encoded as
    UTF-8: a raw surrogate there made the executor itself fail on the block."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ContractFault(Exception):
    """A run-time error of contract code: `kind` names it like a Python error type."""

    def __init__(self, kind: str, detail: str) -> None:
        detail = printable(detail)
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class LimitFault(ContractFault):
    """A runtime bound was passed (bits, length, items, frames)."""

    def __init__(self, detail: str) -> None:
        super().__init__("LimitExceeded", detail)


class FramesFault(LimitFault):
    """Contract functions nested deeper than the frame limit."""
