"""Accent- and case-insensitive search ("garcia" finds "García" and "GARCÍA"), the same on PostgreSQL and SQLite.

Staff type names without accents; the estate stores them with. Both sides of a comparison are *folded*: lower
case, and every accented Latin letter replaced by its base letter. The column side is an expression computed in
the query (``Folded``), never a stored column or an index: Kamailio and Asterisk read the users' tables, and a
schema change there would lock them (and ``unaccent`` is an extension, i.e. DDL, on PostgreSQL).

- PostgreSQL: ``translate(lower(col), 'áàâ…', 'aaa…')``; ``lower`` follows the database's locale, and the table
  also lists the upper-case letters so the answer does not depend on it.
- SQLite (the embedded mode): its ``lower`` folds ASCII only ("Ø" would stay), so the whole fold is one Python
  function, ``fold_column`` below, registered on each new connection (``install``, from ``sites``' ready()).
- The search term: ``fold_term``, the very same mapping in Python, so a term matches what the database
  computes (NFKD + casefold would turn "ß" into "ss" or "ﬁ" into "fi", which the database keeps: no match).

The table is derived once from Unicode (NFKD, combining marks dropped) for the Latin letters U+00C0-U+024F
that fold to one ASCII letter: "á"→"a", "Ñ"→"n", "ç"→"c", "ł" stays (no decomposition).
"""
from __future__ import annotations

import unicodedata

from django.db.models import CharField, Func, Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Contains

#: the function registered on SQLite connections (a name of our own: no built-in is overridden)
SQLITE_FUNCTION = "voipadmin_fold"


def _base_letter(char: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)).lower()


def _table() -> tuple[str, str]:
    accented, plain = [], []
    for char in map(chr, range(0xC0, 0x250)):
        base = _base_letter(char)
        if base != char and len(base) == 1 and base.isascii() and base.isalpha():
            accented.append(char)
            plain.append(base)
    return "".join(accented), "".join(plain)


#: ``translate``'s two arguments: each character of ACCENTED becomes the one at the same place in PLAIN
ACCENTED, PLAIN = _table()
_TRANSLATION = str.maketrans(ACCENTED, PLAIN)


def fold_column(text: str | None) -> str | None:
    """What ``Folded`` computes in the database: lower case, accented Latin letters to their base letter."""
    if text is None:
        return None
    return text.lower().translate(_TRANSLATION)


def fold_term(term: str) -> str:
    """A typed search term folded as the columns are (NFC first: a term typed as "i" + a combining accent
    is the same "í" as the stored one)."""
    return fold_column(unicodedata.normalize("NFC", term).strip())


class Folded(Func):
    """A text column folded for comparison with a ``fold_term``: ``Folded("name")``."""

    function = "translate"
    output_field = CharField()

    def __init__(self, expression, **extra):
        super().__init__(Lower(expression), Value(ACCENTED), Value(PLAIN), **extra)

    def as_sqlite(self, compiler, connection, **extra):
        column = self.get_source_expressions()[0].get_source_expressions()[0]  # (inside Lower)
        sql, params = compiler.compile(column)
        return f"{SQLITE_FUNCTION}({sql})", params


def matches(term: str, *fields: str) -> Q:
    """Any of ``fields`` contains ``term``, accents and case aside (``%`` and ``_`` are literal: a LIKE
    escaped by Django)."""
    folded = fold_term(term)
    condition = Q()
    for field in fields:
        condition |= Q(Contains(Folded(field), folded))
    return condition


def register_sqlite_function(sender=None, connection=None, **kwargs) -> None:
    """``connection_created`` receiver: give a new SQLite connection the fold (deterministic: the same text
    always folds the same, so SQLite's planner may reuse an answer)."""
    if connection is not None and connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 1, fold_column, deterministic=True)


def install() -> None:
    """Register the fold on every SQLite connection, new or already open (called from an app's ``ready``)."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    connection_created.connect(register_sqlite_function, dispatch_uid="voipadmin-search-fold")
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            register_sqlite_function(connection=connection)
