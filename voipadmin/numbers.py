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
from django.utils.translation import gettext

#: at most this many digits: every number of the estate fits (extensions have 10), and int() stays cheap
MAX_DIGITS = 18
_UNSIGNED = re.compile(r"[0-9]{1,%d}" % MAX_DIGITS)
_SIGNED = re.compile(r"-?[0-9]{1,%d}" % MAX_DIGITS)


def is_number(text: object, *, signed: bool = False) -> bool:
    """True when ``text`` is a number this module parses (ASCII digits, ``-`` first if ``signed``)."""
    return isinstance(text, str) and (_SIGNED if signed else _UNSIGNED).fullmatch(text) is not None


def parse_int(text: object, *, what: str | None = None, signed: bool = False, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``text`` as an int, or a ``ValidationError`` naming ``what`` (the caller's words, translated there) and
    the expected form and bounds."""
    what = what if what is not None else gettext("The value")
    if not is_number(text, signed=signed):
        values = {"what": what, "digits": MAX_DIGITS, "text": repr(text)}
        if isinstance(text, str) and len(text) <= 30:
            message = (gettext("%(what)s must be a whole number (at most %(digits)s digits); %(text)s is not.")
                       if signed else
                       gettext("%(what)s must be a number of digits 0-9 only (at most %(digits)s digits); "
                               "%(text)s is not."))
        else:
            message = (gettext("%(what)s must be a whole number (at most %(digits)s digits); it is not.")
                       if signed else
                       gettext("%(what)s must be a number of digits 0-9 only (at most %(digits)s digits); "
                               "it is not."))
        raise ValidationError(message % values, code="invalid_number")
    value = int(text)  # type: ignore[arg-type]
    if minimum is not None and value < minimum:
        raise ValidationError(gettext("%(what)s must be at least %(minimum)s.") % {"what": what, "minimum": minimum},
                              code="min_value")
    if maximum is not None and value > maximum:
        raise ValidationError(gettext("%(what)s must be at most %(maximum)s.") % {"what": what, "maximum": maximum},
                              code="max_value")
    return value


def int_or_none(text: object, *, signed: bool = False) -> int | None:
    """``text`` as an int when it is one (a search box: anything else is just text to look for)."""
    return int(text) if is_number(text, signed=signed) else None  # type: ignore[arg-type]
