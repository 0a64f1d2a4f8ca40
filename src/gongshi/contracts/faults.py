"""Internal failures raised inside running contract code, before the line is known.

Helpers raise these; `LoadedContract.invoke` turns them into the public `CallFailed` errors
with the contract line that was running. They never leave the runtime.
"""

from __future__ import annotations


class ContractFault(Exception):
    """A run-time error of contract code: `kind` names it like a Python error type."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class LimitFault(ContractFault):
    """A runtime bound was passed (bits, length, items, frames)."""

    def __init__(self, detail: str) -> None:
        super().__init__("LimitExceeded", detail)


class FramesFault(LimitFault):
    """Contract functions nested deeper than the frame limit."""
