"""Errors of the benchmarks (codes 1930-1949)."""

from __future__ import annotations

from gongshi.errors import GongshiError, ValidationError


class BenchError(GongshiError):
    """Raised when a benchmark cannot run or finish (see the message)."""

    code = 1930


class BenchOptionError(ValidationError):
    """Raised when benchmark options are out of range or contradict each other."""

    code = 1931


class NetworkNotReady(BenchError):
    """Raised when the benchmark's node network does not commit blocks in time."""

    code = 1932


class NodeExited(BenchError):
    """Raised when a node process of the benchmark's network exits during the run."""

    code = 1933


class LoadGeneratorFailed(BenchError):
    """Raised when the load-generator process fails or writes no usable result."""

    code = 1934
