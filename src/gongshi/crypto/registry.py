"""Suite lookup by name: the one place that maps "gm" / "intl" to an implementation.

Each suite module is imported on first use, so a chain on `intl` never loads Tongsuo.
"""

from __future__ import annotations

import importlib

from gongshi.crypto.suite import Suite
from gongshi.errors import UnknownSuite

# name -> "module:attribute" of the suite's stateless singleton
_SUITE_TARGETS: dict[str, str] = {
    "gm": "gongshi.crypto.gm:GM",
    "intl": "gongshi.crypto.intl:INTL",
}

SUITE_NAMES: tuple[str, ...] = tuple(sorted(_SUITE_TARGETS))


def get_suite(name: str) -> Suite:
    """The suite called `name` ("gm" or "intl"); raises UnknownSuite otherwise."""
    target = _SUITE_TARGETS.get(name) if isinstance(name, str) else None
    if target is None:
        raise UnknownSuite(
            f"unknown crypto suite {name!r}; choose one of: {', '.join(SUITE_NAMES)}"
        )
    module_name, attribute = target.split(":")
    suite = getattr(importlib.import_module(module_name), attribute)
    assert isinstance(suite, Suite)
    return suite
