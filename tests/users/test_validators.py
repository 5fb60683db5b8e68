import pytest

from users import validators


@pytest.mark.parametrize("pin", ["2468", "7391", "0295", "1357902468"])
def test_it_accepts_a_reasonable_pin(pin):
    assert validators.pin_problem(pin, 1001) is None


@pytest.mark.parametrize("pin,reason", [
    ("123", "4 to 10 digits"), ("12345678901", "4 to 10 digits"), ("12a4", "digits only"), ("", "digits only"),
    ("1111", "repeated"), ("0000000", "repeated"), ("1234", "run"), ("4321", "run"), ("7890", "run"),
    ("0987", "run"), ("3456789", "run"), ("١٢٣٤", "digits only"),
])
def test_it_refuses_a_weak_pin(pin, reason):
    assert reason in validators.pin_problem(pin, 5555)


def test_it_refuses_a_pin_equal_to_the_extension():
    assert "extension" in validators.pin_problem("1001", 1001)
    assert "extension" in validators.pin_problem("4082", "4082")


def test_generated_pins_follow_the_policy():
    for _ in range(200):
        pin = validators.generate_pin(246810)
        assert validators.pin_problem(pin, 246810) is None and len(pin) == 6


def test_generated_passwords_are_long_random_and_safe():
    seen = {validators.generate_password() for _ in range(100)}
    assert len(seen) == 100
    for pw in seen:
        assert len(pw) == 20 >= validators.PASSWORD_MIN and set(pw) <= set(validators.PASSWORD_ALPHABET)
        assert validators.password_problem(pw) is None


def test_it_refuses_a_short_or_awkward_password():
    assert "at least 16" in validators.password_problem("short")
    assert "spaces" in validators.password_problem("has a space in it ok")
    assert "quotes or commas" in validators.password_problem("comma,in,the,password")


def test_other_apps_can_reserve_extensions_through_the_hook(monkeypatch):
    monkeypatch.setattr(validators, "_EXTENSION_CHECKS", [])
    validators.register_extension_check(lambda exts: {e: f"{e} is service code *{e}" for e in exts if e == 1999})
    assert validators.unavailable_extensions([1001, 1999]) == {1999: "1999 is service code *1999"}
    with pytest.raises(Exception, match="service code"):
        validators.extension_available(1999)
    validators.extension_available(1001)
