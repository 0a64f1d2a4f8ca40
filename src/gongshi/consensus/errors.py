"""Errors of the consensus package (codes 1500-1549).

Peer input never raises: the engine drops a bad message and counts why (`Engine.drops`).
These errors are for the local operator's mistakes: a configuration or bootstrap state that
cannot work, or a certificate handed to `verify_commit` by block sync or a light client.
"""

from __future__ import annotations

from gongshi.errors import ConfigError, InvalidCertificate


class InvalidValidatorSet(ConfigError):
    """Raised when a validator set is empty, has duplicate keys or a negative epoch."""

    code = 1500


class InvalidEngineConfig(ConfigError):
    """Raised when an engine configuration or bootstrap state is inconsistent."""

    code = 1501


class InvalidFinalityCertificate(InvalidCertificate):
    """Raised when a finality certificate's bytes do not decode to a quorum certificate."""

    code = 1502


class InvalidSimulationOptions(ConfigError):
    """Raised when simulator options are out of range (e.g. more Byzantine nodes than nodes)."""

    code = 1503
