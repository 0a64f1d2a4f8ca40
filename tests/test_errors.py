from gongshi.errors import GongshiError, all_error_classes


def test_error_codes_are_unique() -> None:
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes)), sorted(codes)


def test_error_message_is_str() -> None:
    assert str(GongshiError("boom")) == "boom"
