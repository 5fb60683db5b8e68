"""One rule for every CSV the portal writes: no cell is ever a spreadsheet formula (OWASP "CSV injection").

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a line feed is a formula to
Excel, LibreOffice or Google Sheets (``=HYPERLINK(…)``, ``@SUM(…)``, DDE ``-cmd|…``). ``cell`` writes such a
value with a leading ``'`` — the prefix OWASP recommends: the spreadsheet shows text, and a reader sees the
quote. A value that itself starts with ``'`` gets one more, so that ``uncell`` (what an importer applies to
each cell) restores exactly the stored value: exporting and importing again changes nothing.

A plain number (``+34600111222``, ``-5``) is left as it is: a spreadsheet reads it as a number and runs
nothing, and billing wants an E.164 number exactly as the switch wrote it.

Every CSV the portal writes goes through here: the users export (UI and ``export_users``), the CDR export, the
import's secrets and errors files.
"""
from __future__ import annotations

import csv
import re
from typing import Any, Iterable, Sequence, TextIO

# (with the full-width forms, which some spreadsheets in East Asian locales read as the ASCII ones)
TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
QUOTE = "'"
_SUSPECT = TRIGGERS | {QUOTE}
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+\Z")


def cell(value: Any) -> Any:
    """The value as it must be written (only strings can change)."""
    if value.__class__ is not str or not value:
        return value
    first = value[0]
    if first == QUOTE or (first in TRIGGERS and not _PLAIN_NUMBER.match(value)):
        return QUOTE + value
    return value


def uncell(value: str) -> str:
    """The stored value of a cell ``cell`` wrote (any other cell is returned as it is)."""
    if len(value) > 1 and value[0] == QUOTE and value[1] in _SUSPECT:
        return value[1:]
    return value


def row(values: Iterable[Any]) -> list[Any]:
    """``cell`` applied to every value of a row (most cells pass one test and are kept as they are)."""
    return [cell(v) if v.__class__ is str and v and v[0] in _SUSPECT else v for v in values]


class Writer:
    """``csv.writer`` whose every cell goes through ``cell``."""

    def __init__(self, out: TextIO, **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, values: Iterable[Any]) -> Any:
        return self._writer.writerow(row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for values in rows:
            self.writerow(values)


class DictWriter(Writer):
    """``csv.DictWriter`` whose every cell goes through ``cell``."""

    def __init__(self, out: TextIO, fieldnames: Sequence[str], **kwargs: Any) -> None:
        super().__init__(out, **kwargs)
        self.fieldnames = list(fieldnames)

    def writeheader(self) -> Any:
        return super().writerow(self.fieldnames)

    def writerow(self, values: dict[str, Any]) -> Any:  # type: ignore[override]
        return super().writerow(values.get(name, "") for name in self.fieldnames)


def writer(out: TextIO, **kwargs: Any) -> Writer:
    return Writer(out, **kwargs)
