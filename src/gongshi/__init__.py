"""Gongshi (共识): a permissioned consortium blockchain."""

__version__ = "0.1.0"
