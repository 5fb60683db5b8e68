"""Writes that lost a race, said so a person can act on them (HTTP 409, never a 500).

Validation runs before a write, but the database has the last word: a unique value taken since,
an object referred to deleted since (PostgreSQL checks foreign keys at commit), a serialization
failure, a deadlock, a lock not had in time (``VOIPADMIN_DB_LOCK_TIMEOUT_MS``). None of them is
the client's fault or a bug, and nothing was saved: the API, the generic pages and the
middleware for every other page answer 409 with ``conflict_message``; trying again after a reload
either works or gets a clear validation error.
"""
from __future__ import annotations

import logging
import re

from django.apps import apps
from django.db import DatabaseError, IntegrityError
from django.utils.translation import gettext, gettext_noop

log = logging.getLogger(__name__)

RETRY = gettext_noop("Nothing was saved: reload and try again.")
#: PostgreSQL SQLSTATEs that mean "another transaction got in the way", not "this request is wrong"
#: (English here, said in the request's language by ``conflict_message``)
CONCURRENCY_STATES = {
    "40001": gettext_noop("Another change to the same data was saved at the same moment (serialization failure)."),
    "40P01": gettext_noop("Another change was waiting for the same data (deadlock)."),
    "55P03": gettext_noop("Another change held the data this one needed for too long (lock timeout)."),
}
_DETAIL = re.compile(r'Key \((?P<columns>[^)]*)\)=\((?P<values>.*)\) (?P<what>already exists|'
                     r'is not present in table "(?P<missing>[^"]+)"|is still referenced from table "(?P<user>[^"]+)")')


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)


def _table_name(table: str) -> str:
    for model in apps.get_models():
        if model._meta.db_table == table:
            return str(model._meta.verbose_name)
    return table


def _integrity_message(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    detail = getattr(diag, "message_detail", None) or ""
    match = _DETAIL.search(detail)
    retry = gettext(RETRY)
    if match is None:
        return gettext("The change conflicts with another one saved meanwhile. %(retry)s") % {"retry": retry}
    columns, values = match["columns"], match["values"]
    if match["missing"]:
        return gettext("The %(model)s it refers to (%(column)s %(values)s) was deleted meanwhile. %(retry)s") % {
            "model": _table_name(match["missing"]), "column": columns.removesuffix("_id"), "values": values,
            "retry": retry}
    if match["user"]:
        return gettext("It is now used by a %(model)s saved meanwhile. %(retry)s") % {
            "model": _table_name(match["user"]), "retry": retry}
    return gettext("Another change saved the same %(columns)s (%(values)s) first. %(retry)s") % {
        "columns": columns, "values": values, "retry": retry}


def conflict_message(exc: BaseException) -> str | None:
    """What to tell the person whose write ``exc`` refused, or None when ``exc`` is no conflict."""
    if isinstance(exc, IntegrityError):
        message = _integrity_message(exc)
    elif isinstance(exc, DatabaseError) and _sqlstate(exc) in CONCURRENCY_STATES:
        message = f"{gettext(CONCURRENCY_STATES[_sqlstate(exc)])} {gettext(RETRY)}"
    else:
        return None
    log.warning("write refused by the database (409): %s", str(exc).splitlines()[0] if str(exc) else exc)
    return message
