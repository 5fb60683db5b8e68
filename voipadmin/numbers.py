"""The one parser for numbers an operator types (search boxes, range lists, destination lines, E1 channels).

``str.isdigit()`` is True for "²" and "١" and ``int()`` refuses the first and reads the second as 1: a check
with one and a parse with the other turned "²" into a 500. Numbers here are ASCII digits only, with an
optional leading minus where a negative makes sense, and no more than 18 digits (a 5,000-digit "priority" would
otherwise stop at Python's int-string limit, another 500). Anything else is a ``ValidationError`` saying what
was expected, never a ``ValueError``.
"""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError

#: at most this many digits: every number of the estate fits (extensions have 10), and int() stays cheap
MAX_DIGITS = 18
_UNSIGNED = re.compile(r"[0-9]{1,%d}" % MAX_DIGITS)
_SIGNED = re.compile(r"-?[0-9]{1,%d}" % MAX_DIGITS)


def is_number(text: object, *, signed: bool = False) -> bool:
    """True when ``text`` is a number this module parses (ASCII digits, ``-`` first if ``signed``)."""
    return isinstance(text, str) and (_SIGNED if signed else _UNSIGNED).fullmatch(text) is not None


def parse_int(text: object, *, what: str = "The value", signed: bool = False, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``text`` as an int, or a ``ValidationError`` naming ``what`` and the expected form and bounds."""
    if not is_number(text, signed=signed):
        shown = repr(text) if isinstance(text, str) and len(text) <= 30 else "it"
        kind = "a whole number" if signed else "a number of digits 0-9 only"
        raise ValidationError(f"{what} must be {kind} (at most {MAX_DIGITS} digits); {shown} is not.",
                              code="invalid_number")
    value = int(text)  # type: ignore[arg-type]
    if minimum is not None and value < minimum:
        raise ValidationError(f"{what} must be at least {minimum}.", code="min_value")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{what} must be at most {maximum}.", code="max_value")
    return value


def int_or_none(text: object, *, signed: bool = False) -> int | None:
    """``text`` as an int when it is one (a search box: anything else is just text to look for)."""
    return int(text) if is_number(text, signed=signed) else None  # type: ignore[arg-type]
