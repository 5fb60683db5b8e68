"""Each validator of ``voipadmin.grammar``: it only ever raises ``ValidationError``, what it accepts is safe where
the value goes (a SIP header, a SIP URI, an AMI header, an Asterisk config file), and the values an operator
really types pass. A validator added to the module without a property here fails ``test_every_validator_...``."""
from __future__ import annotations

import inspect
import re

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from users import realtime
from voipadmin import grammar

from .estate import CALLERID
from .strategies import budget, characters, nasty_text

VALIDATORS = {name: fn for name, fn in inspect.getmembers(grammar, inspect.isfunction)
              if name.startswith("validate_") and fn.__module__ == grammar.__name__}

#: RFC 3261 qdtext (ASCII part) + UTF8-NONASCII, i.e. what may stand between the quotes of a display name
QDTEXT = re.compile(r'[ !#-\[\]-~\u0080-\U0010ffff]*\Z')
SIP_USER = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+\Z")


def accepts(validator, value: str) -> bool:
    try:
        validator(value)
    except ValidationError as exc:
        assert exc.messages and all(m.strip() for m in exc.messages)
        return False
    return True


def sip_uri_ok(value: str) -> bool:
    return accepts(grammar.validate_sip_uri, value)


def no_unsafe(value: str) -> bool:
    return grammar.unsafe_character(value) is None and value == value.strip()


#: validator → (what it must guarantee about every value it accepts, values operators type that must pass)
PROPERTIES = {
    "validate_single_line": (no_unsafe, ["Branch 1", "Calle Mayor 1, 2º", "Ñandú & Co.", "東京オフィス"]),
    "validate_multi_line": (lambda v: grammar.unsafe_character(v, allow="\n\r\t") is None,
                            ["Head office\nfloor 2", "a\r\n\tb"]),
    "validate_display_name": (lambda v: no_unsafe(v) and QDTEXT.match(v) and not set(v) & set('"<>\\;'),
                              ["Ana García", "O'Brien, Seán", "Jean-Luc (Front desk)", "李小龍", "Zoë & Æsa"]),
    "validate_caller_id": (lambda v: no_unsafe(v) and CALLERID.match(realtime.callerid("x", v, 1001)),
                           ["Front desk", "+34911234567", "1001", '"Front desk" <+34911234567>', "Desk <555>"]),
    "validate_sip_user": (lambda v: SIP_USER.match(v) and sip_uri_ok(f"sip:{v}@carrier.example.test"),
                          ["acct-1", "+34911000000", "user.name_1", "a%20b"]),
    "validate_sip_host": (lambda v: sip_uri_ok(f"sip:{v}:5060") and v.isascii(),
                          ["127.0.0.1", "pbx.example.test", "[2001:db8::1]", "carrier-1.example.test"]),
    "validate_network_host": (lambda v: v.isascii() and " " not in v and no_unsafe(v),
                              ["127.0.0.1", "pbx.example.test", "::1", "[::1]"]),
    "validate_hostport": (lambda v: sip_uri_ok(f"sip:{v}"),
                          ["127.0.0.10:5060", "[::1]:5060", "sip.example.test", "kamailio.example.test:5080"]),
    "validate_sip_uri": (lambda v: v.isascii() and no_unsafe(v) and not set(v) & set(' <>"?\\'),
                         ["sip:proxy.example.test", "sip:127.0.0.1:5060;transport=tcp", "sips:[::1]:5061;lr",
                          "sip:acct@proxy.example.test"]),
    "validate_quoted_text": (lambda v: re.fullmatch(r'[\x20-\x7e]+', v) and not set(v) & set('"\\') and no_unsafe(v),
                             ["carrier.example.test", "acct-1-auth", "My Realm"]),
    "validate_account_name": (lambda v: re.fullmatch(r"[A-Za-z0-9._@+-]{1,64}", v),
                              ["voipadmin", "ami.user@site", "rpc+1"]),
    "validate_secret": (no_unsafe, ["ami-secret-1", "p@ss w;ord\"'", "contraseña"]),
    "validate_mail_address": (lambda v: v.isascii() and v.count("@") == 1 and no_unsafe(v) and not set(v) & set(' "<>'),
                              ["ana@example.test", "first.last+vm@mail.example.test", "o'brien@example.test"]),
    "validate_dial_pattern": (lambda v: re.fullmatch(r"[\x21-\x7e]+", v),
                              ["^[89][0-9]{8}$", "^(112|091)$", "^00[1-9][0-9]{4,}$"]),
    "validate_domain_name": (lambda v: sip_uri_ok(f"sip:1000@{v}") and v == v.lower() and not dotted_but_not_ipv4(v),
                             ["voip.example.test", "branch-1.example.test", "192.0.2.10", "localhost"]),
    "validate_http_url": (lambda v: re.match(r"https?://.", v, re.IGNORECASE) and no_unsafe(v),
                          ["http://127.0.0.1:8088/ari", "https://pbx.example.test/ari", "http://[::1]:5071/RPC"]),
}


def dotted_but_not_ipv4(value: str) -> bool:
    """Digits and dots that are no IPv4 address (999.1.1.1): what no host validator may take."""
    import ipaddress

    if not re.fullmatch(r"[0-9.]+", value):
        return False
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return True
    return False


#: strings each validator should find acceptable now and then, so the property is not only about refusals
PLAUSIBLE = st.one_of(
    nasty_text,
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 .,'&()-]{0,20}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,10}(\.[a-z0-9-]{1,10}){0,3}(:[0-9]{1,5})?", fullmatch=True),
    st.from_regex(r"sips?:[a-z0-9.-]{1,20}(:[0-9]{1,5})?(;[a-z]{1,5}(=[a-z0-9]{1,5})?){0,2}", fullmatch=True),
    st.from_regex(r"[a-z0-9.+_-]{1,10}@[a-z0-9-]{1,10}\.[a-z]{2,5}", fullmatch=True),
    st.from_regex(r'"?[A-Za-z ]{0,12}"? ?<\+?[0-9]{1,12}>', fullmatch=True),
    st.lists(characters, max_size=30).map("".join),
)


def test_every_validator_has_its_property():
    assert set(VALIDATORS) == set(PROPERTIES)


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_what_operators_type_passes(name):
    for value in PROPERTIES[name][1]:
        assert accepts(VALIDATORS[name], value), (name, value)


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_what_a_validator_accepts_is_safe_where_it_goes(name):
    validator, guarantee = VALIDATORS[name], PROPERTIES[name][0]

    @budget(80)
    @given(value=PLAUSIBLE)
    def check(value):
        if accepts(validator, value):  # (and any other exception fails the test)
            assert guarantee(value), (name, value)
            assert "\r" not in value or name == "validate_multi_line"
    check()


@pytest.mark.parametrize("value", ["a\r\nVia: x", "x\n", "\u202eevil", "a\x00b", "a\tb", "\u2028"])
@pytest.mark.parametrize("name", sorted(set(PROPERTIES) - {"validate_multi_line"}))
def test_no_one_line_validator_takes_a_line_break_or_a_control_character(name, value):
    assert not accepts(VALIDATORS[name], value)


def test_the_messages_name_the_character_not_the_secret():
    with pytest.raises(ValidationError) as exc:
        grammar.validate_secret("hunter2\r\nAction: Originate")
    assert "hunter2" not in str(exc.value) and "U+000D" in str(exc.value)
