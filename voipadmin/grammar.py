"""What an operator may type into a field that ends up in a SIP message, Kamailio's tables or Asterisk's.

Each kind of value has one validator here, put on the model fields that hold it, so the form, the API
(ModelSerializer) and the CSV import (``crud.field_errors``) refuse the same input with the same message.
The grammar is RFC 3261's (§25.1) where a value goes into a SIP message, or a safe subset of it where
Kamailio's or Asterisk's own parsers are stricter than the RFC. Messages never repeat the value (some are
secrets) but name the offending character by its code point.

Characters no field takes (:func:`unsafe_character`): the Unicode categories

* ``Cc`` control characters — CR and LF end a SIP header, an AMI header or a config line (header
  injection), TAB and the rest have no business in a name;
* ``Cf`` format characters — bidi overrides (U+202E), zero-width joiners and marks: invisible, they make
  a name read differently from what is stored (and what a phone shows);
* ``Zl``/``Zp`` line and paragraph separators, ``Co`` private-use and ``Cs`` surrogates.

Per kind (``validate_*``):

================  ==================================================================================
display name      a user's name, the name part of a caller ID: the above, and none of ``" < > \\ ;``.
                  RFC 3261 would allow ``"`` and ``\\`` escaped inside the quotes, but Asterisk's
                  callerid parser and app_voicemail's mail headers do not unescape them, so they are
                  refused rather than escaped. No leading/trailing spaces. Any letter of any script,
                  digits, spaces, and punctuation such as ``' , . - & ( )`` are fine.
caller ID         a display name, a number (``+?[0-9]{1,20}``) or both as ``"Name" <number>``
                  (or ``Name <number>``); the realtime view always writes ``"name" <number>``.
SIP user          RFC 3261 ``user`` = 1*( unreserved / escaped / user-unreserved ).
SIP host          RFC 3261 ``host`` = hostname / IPv4address / IPv6reference (``[2001:db8::1]``);
                  labels of at most 63 characters, no trailing dot, at most 253 characters.
network host      a host to open a TCP connection to (AMI): a hostname, IPv4 or IPv6, brackets optional.
                  In every host a name made of digits and dots only (``999.1.1.1``) must be an IPv4
                  address: a host name's last label has a letter (RFC 1123 §2.1, RFC 3261 ``toplabel``).
domain name       a site's SIP domain (Kamailio's realm): a lower-case host name, or an IPv4 address.
HTTP URL          a service's base URL (ARI): ``http://`` or ``https://`` written out — a URL without
                  one is refused, never completed with a guess.
host:port         RFC 3261 ``hostport`` (Kamailio's SIP address).
SIP URI           ``sip:``/``sips:`` [user ``@``] hostport *( ``;`` uri-parameter ): no headers (``?``).
quoted text       realm, auth username: the inside of a quoted-string Kamailio writes into a digest
                  header — printable ASCII without ``"`` and ``\\``, no leading/trailing spaces.
account name      AMI/ARI/JSON-RPC user names: a manager.conf/ari.conf section name and an AMI header /
                  HTTP Basic value: ``[A-Za-z0-9._@+-]``, 1–64 characters.
secret            AMI secret, ARI/JSON-RPC/ITSP passwords: no unsafe character, no leading/trailing
                  whitespace (AMI and Asterisk's config parser would drop it).
mail address      the mailbox's notification address (app_voicemail writes it into mail headers):
                  ASCII ``dot-atom@hostname``; no quoted local part (Django's own validator lets
                  control characters through inside one).
single line       any other one-line text (names of sites, nodes, routes, descriptions, URLs).
multi line        notes: line breaks and tabs allowed, nothing else unsafe.
dial pattern      a route's regular expression (Kamailio ``dialplan.match_exp``): printable ASCII, no
                  spaces.
================  ==================================================================================

Regular expressions here end with ``\\Z``, never ``$``: ``$`` also matches before a final newline, so
``"123\\n"`` passed ``^[0-9]+$``.
"""
from __future__ import annotations

import functools
import ipaddress
import re
import sys
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy as _

#: Unicode categories no field takes (see the module docstring).
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
#: What a display name may not contain besides those: they delimit it in a SIP header / callerid.
DISPLAY_NAME_DELIMITERS = '"<>\\;'
#: A caller ID's number: what a phone or a carrier presents.
CALLER_NUMBER = r"\+?[0-9]{1,20}"

_LINE_BREAKS = {"\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"}


def describe(ch: str) -> str:
    """A character as a message names it: its kind and code point (the character itself may be invisible)."""
    point = f"U+{ord(ch):04X}"
    category = unicodedata.category(ch)
    if ch in _LINE_BREAKS:
        return gettext("a line break (%(point)s)") % {"point": point}
    if ch == "\t":
        return gettext("a tab (%(point)s)") % {"point": point}
    if category == "Cc":
        return gettext("a control character (%(point)s)") % {"point": point}
    if category == "Cf":
        return gettext("an invisible formatting character such as a bidi or zero-width mark (%(point)s)") % {
            "point": point}
    if category == "Co":
        return gettext("a private-use character (%(point)s)") % {"point": point}
    if category == "Cs":
        return gettext("a lone surrogate (%(point)s)") % {"point": point}
    if ch == " ":
        return gettext("a space")
    return f"{ch!r} ({point})"


def unsafe_character(value: str, *, allow: str = "") -> str | None:
    """The first character of ``value`` in an unsafe category (and not in ``allow``), else None."""
    for ch in value:
        if ch not in allow and unicodedata.category(ch) in UNSAFE_CATEGORIES:
            return ch
    return None


#: why a character is refused where it is (``_refuse_unsafe(where=...)``), said after the character
NAMES_GO_INTO_SIP = _(" (names go into SIP headers and Asterisk's caller ID)")
CALLER_ID_GOES_INTO_SIP = _(" (a caller ID goes into SIP headers)")
GOES_INTO_SIP_URIS = _(" (it goes into SIP URIs)")
GOES_INTO_SIP_MESSAGES = _(" (it goes into SIP messages)")
GOES_INTO_SIP_AUTH = _(" (it goes into a SIP authentication header)")


def _refuse_unsafe(value: str, *, allow: str = "", where: str = "") -> None:
    ch = unsafe_character(value, allow=allow)
    if ch is not None:
        raise ValidationError(gettext("Contains %(character)s%(where)s; remove it.")
                              % {"character": describe(ch), "where": where}, code="unsafe_character")


def _refuse_outer_space(value: str) -> None:
    if value != value.strip():
        raise ValidationError(gettext("Remove the spaces at the start or the end."), code="outer_space")


# --- free text --------------------------------------------------------------------------------------------------


def validate_single_line(value: str) -> None:
    """One line of text: no unsafe character (line breaks, tabs, bidi marks ...), no outer spaces."""
    _refuse_unsafe(value)
    _refuse_outer_space(value)


def validate_multi_line(value: str) -> None:
    """Notes: line breaks and tabs are fine, other unsafe characters are not."""
    _refuse_unsafe(value, allow="\n\r\t")


# --- display names and caller IDs -------------------------------------------------------------------------------


def validate_display_name(value: str) -> None:
    """A SIP display name (a user's name; the name part of a caller ID)."""
    _refuse_unsafe(value, where=NAMES_GO_INTO_SIP)
    bad = next((ch for ch in value if ch in DISPLAY_NAME_DELIMITERS), None)
    if bad is not None:
        raise ValidationError(gettext('A name may not contain %(character)s — the characters " < > \\ ; delimit '
                                      "names in SIP headers and Asterisk's caller ID. Letters, digits, spaces and "
                                      "other punctuation are fine.") % {"character": bad}, code="display_name")
    _refuse_outer_space(value)


_CALLER_NUMBER_RE = re.compile(CALLER_NUMBER + r"\Z")
_CALLER_ID_FULL_RE = re.compile(r'(?:"(?P<quoted>[^"]*)"|(?P<bare>[^"<>]*?))[ ]*<(?P<number>' + CALLER_NUMBER
                                + r")>\Z")
CALLER_ID_FORMS = _('a name (Front desk), a number (+34911234567) or both ("Front desk" <+34911234567>)')


def split_caller_id(value: str) -> tuple[str | None, str | None]:
    """``(name, number)`` of a caller ID as :func:`validate_caller_id` reads it (None: not given)."""
    if _CALLER_NUMBER_RE.match(value):
        return None, value
    full = _CALLER_ID_FULL_RE.match(value)
    if full:
        name = full.group("quoted") if full.group("quoted") is not None else full.group("bare")
        return name.strip(), full.group("number")
    return value, None


def validate_caller_id(value: str) -> None:
    """A caller ID: see ``CALLER_ID_FORMS``; its name part follows the display-name rules."""
    _refuse_unsafe(value, where=CALLER_ID_GOES_INTO_SIP)
    _refuse_outer_space(value)
    name, _number = split_caller_id(value)
    if name is None:
        return
    try:
        validate_display_name(name)
    except ValidationError as exc:
        raise ValidationError(gettext("Give %(forms)s. %(problem)s") % {"forms": CALLER_ID_FORMS,
                                                                         "problem": " ".join(exc.messages)},
                              code="caller_id") from None


# --- SIP URIs and their parts (RFC 3261 §25.1) -------------------------------------------------------------------

_ALNUM = "A-Za-z0-9"
_MARK = r"\-_.!~*'()"
_ESCAPED = "%[0-9A-Fa-f]{2}"
#: user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
_USER = rf"(?:[{_ALNUM}{_MARK}&=+$,;?/]|{_ESCAPED})+"
_DOMAINLABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOPLABEL = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"(?:{_DOMAINLABEL}\.)*{_TOPLABEL}\Z")
_USER_RE = re.compile(_USER + r"\Z")
#: paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $
_PARAMCHAR = rf"(?:[{_ALNUM}{_MARK}\[\]/:&+$]|{_ESCAPED})"
_URI_RE = re.compile(rf"(?P<scheme>sips?):(?:(?P<user>{_USER})@)?(?P<hostport>[^;@]+)"
                     rf"(?P<params>(?:;{_PARAMCHAR}+(?:={_PARAMCHAR}+)?)*)\Z", re.IGNORECASE)
HOST_HINT = _("a host name (pbx.example.test), an IPv4 address (192.0.2.10) or an IPv6 address in brackets "
              "([2001:db8::1])")


def _is_hostname(value: str) -> bool:
    return len(value) <= 253 and _HOSTNAME_RE.match(value) is not None


def _is_ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _looks_like_ipv4(value: str) -> bool:
    """Digits and dots only: RFC 1123 says such a name is read as an IPv4 address, never as a host name."""
    return bool(value) and all(ch.isascii() and (ch.isdigit() or ch == ".") for ch in value)


#: the message for a name of digits and dots that is no IPv4 address (999.1.1.1, 10.1.1, 010.0.0.1)
NOT_IPV4 = _("A host made of digits and dots must be an IPv4 address: four numbers from 0 to 255 without leading "
             "zeros, e.g. 192.0.2.10 (a host name's last part has a letter).")


def _is_ipv6(value: str) -> bool:
    if "%" in value:  # a zone id names an interface of one machine: meaningless in a URI others read
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def is_sip_host(value: str) -> bool:
    """RFC 3261 ``host``: hostname / IPv4address / IPv6reference."""
    if not value.isascii():
        return False
    if value.startswith("[") and value.endswith("]"):
        return _is_ipv6(value[1:-1])
    return _is_ipv4(value) or _is_hostname(value)


def validate_sip_host(value: str) -> None:
    """A host as a SIP URI writes it (``sip:<host>:5060``)."""
    if not is_sip_host(value):
        _refuse_unsafe(value)
        if _looks_like_ipv4(value):
            raise ValidationError(NOT_IPV4, code="sip_host")
        if value.isascii() and _is_ipv6(value):
            raise ValidationError(gettext("Write an IPv6 address in brackets, e.g. [%(address)s]: it goes into SIP "
                                          "URIs.") % {"address": value}, code="sip_host")
        raise ValidationError(gettext("Enter %(hint)s.") % {"hint": HOST_HINT}, code="sip_host")


def validate_network_host(value: str) -> None:
    """A host to connect to (AMI over TCP): like a SIP host, an IPv6 address with or without brackets."""
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if not (value.isascii() and (is_sip_host(value) or _is_ipv6(bare))):
        _refuse_unsafe(value)
        if _looks_like_ipv4(value):
            raise ValidationError(NOT_IPV4, code="network_host")
        raise ValidationError(gettext("Enter %(hint)s.") % {"hint": HOST_HINT}, code="network_host")


_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_NAME_RE = re.compile(rf"(?:{_DNS_LABEL}\.)*[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?\Z")


def validate_domain_name(value: str) -> None:
    """A SIP domain (a site's; Kamailio's realm for its users): a lower-case host name or an IPv4 address.

    Lower case because Kamailio compares domains as stored (``subscriber.domain``), and a realm in
    another case would be another realm to the phones' digest.
    """
    if _is_ipv4(value):
        return
    if _looks_like_ipv4(value):
        raise ValidationError(NOT_IPV4, code="domain_name")
    if not (value.isascii() and len(value) <= 253 and _DOMAIN_NAME_RE.match(value)):
        _refuse_unsafe(value)
        raise ValidationError(gettext("Enter a lower-case DNS name such as voip.example.test: labels of letters, "
                                      "digits and hyphens, separated by dots, the last one with a letter."),
                              code="domain_name")


def _port_problem(port: str) -> str | None:
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
        return gettext("The port must be a number from 1 to 65535.")
    return None


def split_hostport(value: str) -> tuple[str, str | None]:
    """``host[:port]`` → ``(host, port or None)``; an IPv6 host keeps its brackets."""
    if value.startswith("["):
        host, _, rest = value.partition("]")
        host += "]"
        if rest.startswith(":"):
            return host, rest[1:]
        return (host, None) if rest == "" else (value, None)
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, port
    return value, None


def validate_hostport(value: str) -> None:
    """RFC 3261 ``hostport`` = host [ ":" port ] (e.g. 192.0.2.10:5060, [2001:db8::1]:5060, sip.example.test)."""
    host, port = split_hostport(value)
    if not is_sip_host(host):
        _refuse_unsafe(value)
        if _looks_like_ipv4(host):
            raise ValidationError(NOT_IPV4, code="hostport")
        raise ValidationError(gettext("Enter host or host:port, the host being %(hint)s.") % {"hint": HOST_HINT},
                              code="hostport")
    if port is not None and (problem := _port_problem(port)):
        raise ValidationError(problem, code="hostport")


def validate_sip_user(value: str) -> None:
    """RFC 3261 ``user``: letters, digits, ``- _ . ! ~ * ' ( ) & = + $ , ; ? /`` and %-escapes."""
    if not _USER_RE.match(value):
        _refuse_unsafe(value, where=GOES_INTO_SIP_URIS)
        raise ValidationError(gettext("A SIP user name takes letters, digits, - _ . ! ~ * ' ( ) & = + $ , ; ? / "
                                      "and %-escapes (RFC 3261); no spaces, quotes, @ or :."), code="sip_user")


def validate_sip_uri(value: str) -> None:
    """A SIP URI such as ``sip:proxy.example.test:5060;transport=tcp`` (no headers, no password)."""
    match = _URI_RE.match(value) if value.isascii() else None
    if match:
        host, port = split_hostport(match.group("hostport"))
        if is_sip_host(host) and (port is None or _port_problem(port) is None):
            return
    _refuse_unsafe(value, where=GOES_INTO_SIP_MESSAGES)
    if match and _looks_like_ipv4(split_hostport(match.group("hostport"))[0]):
        raise ValidationError(NOT_IPV4, code="sip_uri")
    raise ValidationError(gettext("Enter a SIP URI such as sip:proxy.example.test:5060 (sip: or sips:, a host, an "
                                  "optional port and ;parameters)."), code="sip_uri")


# --- URLs of the services voipadmin calls -----------------------------------------------------------------------

#: what the message asks for when a URL lacks its scheme
URL_SCHEME_HINT = _("Give the full URL with its scheme, e.g. http://127.0.0.1:8088/ari")


def validate_http_url(value: str) -> None:
    """A service's base URL with its scheme written out (``http://`` or ``https://``).

    Django's form URLField would complete ``pbx:8088/ari`` to ``https://pbx:8088/ari``: Asterisk's
    built-in HTTP server speaks plain HTTP unless configured otherwise, so the guess is wrong more often
    than not, and silently so. The URL's other parts are checked by Django's ``URLValidator``.
    """
    _refuse_unsafe(value)
    _refuse_outer_space(value)
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        raise ValidationError(gettext("%(hint)s (http:// or https://).") % {"hint": URL_SCHEME_HINT},
                              code="url_scheme")


# --- credentials and the like -----------------------------------------------------------------------------------

_QUOTED_TEXT_RE = re.compile(r'[\x20\x21\x23-\x5b\x5d-\x7e]+\Z')


def validate_quoted_text(value: str) -> None:
    """The inside of a quoted-string in a digest header (realm, auth username): printable ASCII, no ``"``/``\\``."""
    _refuse_unsafe(value, where=GOES_INTO_SIP_AUTH)
    if not _QUOTED_TEXT_RE.match(value):
        bad = next((ch for ch in value if not _QUOTED_TEXT_RE.match(ch)), None)
        if bad:
            message = gettext('Contains %(character)s: use printable ASCII characters other than " and \\ (it goes '
                              "between quotes in a SIP authentication header).") % {"character": describe(bad)}
        else:
            message = gettext('Enter printable ASCII characters other than " and \\ (it goes between quotes in a '
                              "SIP authentication header).")
        raise ValidationError(message, code="quoted_text")
    _refuse_outer_space(value)


_ACCOUNT_RE = re.compile(r"[A-Za-z0-9._@+-]{1,64}\Z")


def validate_account_name(value: str) -> None:
    """An AMI/ARI/JSON-RPC user name: an Asterisk config section name and an AMI / HTTP Basic header value."""
    if not _ACCOUNT_RE.match(value):
        _refuse_unsafe(value)
        raise ValidationError(gettext("Use 1 to 64 letters, digits and . _ @ + - (it names a section of "
                                      "manager.conf or ari.conf and goes into a login header)."), code="account_name")


def validate_secret(value: str) -> None:
    """A password or secret sent in an AMI header, HTTP Basic or a digest, and written into a config file."""
    _refuse_unsafe(value)
    if value != value.strip():
        raise ValidationError(gettext("A secret may not start or end with a space: Asterisk and the AMI drop it."),
                              code="outer_space")


_MAIL_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_MAIL_RE = re.compile(rf"(?P<local>{_MAIL_LOCAL})@(?P<domain>[^@]+)\Z")


def validate_mail_address(value: str) -> None:
    """An address app_voicemail writes into mail headers: ASCII ``dot-atom@host``, nothing quoted."""
    match = _MAIL_RE.match(value) if value.isascii() else None
    if not (match and len(match.group("local")) <= 64 and _is_hostname(match.group("domain"))):
        _refuse_unsafe(value)
        raise ValidationError(gettext("Enter a plain email address such as ana@example.test (ASCII letters, digits "
                                      "and !#$%&'*+/=?^_`{|}~.- before the @, a host name after it)."),
                              code="mail_address")


_DIAL_PATTERN_RE = re.compile(r"[\x21-\x7e]+\Z")


def validate_dial_pattern(value: str) -> None:
    """A route's number pattern as Kamailio's dialplan reads it: printable ASCII without spaces."""
    if not _DIAL_PATTERN_RE.match(value):
        _refuse_unsafe(value)
        raise ValidationError(gettext("A number pattern takes printable ASCII characters and no spaces "
                                  "(e.g. ^00[1-9][0-9]+$)."), code="dial_pattern")


# --- for SQL that must strip what validation refuses (rows stored before it existed) ---------------------------


@functools.lru_cache(maxsize=1)
def unsafe_ranges(include_surrogates: bool = False) -> tuple[tuple[int, int], ...]:
    """The code points of ``UNSAFE_CATEGORIES`` as ``(first, last)`` ranges (from this Python's Unicode data).

    Surrogates are left out unless asked: no UTF-8 text (PostgreSQL's) can hold one.
    """
    ranges: list[list[int]] = []
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF and not include_surrogates:
            continue
        if unicodedata.category(chr(cp)) in UNSAFE_CATEGORIES:
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return tuple((a, b) for a, b in ranges)
