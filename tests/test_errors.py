import importlib
import pkgutil

import gongshi
from gongshi.errors import GongshiError, all_error_classes


def import_all_modules() -> None:
    for module in pkgutil.walk_packages(gongshi.__path__, prefix="gongshi."):
        importlib.import_module(module.name)


def test_error_codes_are_unique_across_all_packages() -> None:
    import_all_modules()
    classes = all_error_classes()
    by_code: dict[int, list[str]] = {}
    for cls in classes:
        by_code.setdefault(cls.code, []).append(cls.__qualname__)
    duplicates = {code: names for code, names in by_code.items() if len(names) > 1}
    assert not duplicates


def test_every_error_class_says_when_it_is_raised() -> None:
    import_all_modules()
    undocumented = [cls.__qualname__ for cls in all_error_classes() if not cls.__doc__]
    assert not undocumented


def test_error_message_is_str() -> None:
    assert str(GongshiError("boom")) == "boom"
