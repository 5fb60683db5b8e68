"""Totals of call records per site and per trunk: one aggregation for the API (``/api/v1/cdrs/totals/``) and the
call records page (its totals and charts).

Each grouping is one ``GROUP BY`` over the filtered rows of ``call_record``, with the site or trunk computed by
the database (``cdrs.attribution``): the period filter walks the ``(start, id)`` index of both branches of the
view, and nothing is read back row by row. On PostgreSQL both groupings come from one statement (``GROUPING
SETS``). The estate-wide totals are the sum of the per-site rows (every row lies in exactly one site group,
"none" included), so they cost no query of their own.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from django.db import connections, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from .models import Disposition

#: disposition → key of its count in a totals row
DISPOSITION_KEYS = {d.value: d.value.lower().replace(" ", "_") for d in Disposition}
TOTAL_KEYS = ["calls", "answered", "duration", "billsec", *DISPOSITION_KEYS.values()]


def _aggregates() -> dict[str, Any]:
    aggregates: dict[str, Any] = {"calls": Count("id"), "answered": Count("id", filter=Q(disposition="ANSWERED")),
                                  "duration": Coalesce(Sum("duration"), 0), "billsec": Coalesce(Sum("billsec"), 0)}
    for disposition, key in DISPOSITION_KEYS.items():
        if key != "answered":
            aggregates[key] = Count("id", filter=Q(disposition=disposition))
    return aggregates


def grouped(queryset: QuerySet, key: str, names: dict[int, str]) -> list[dict[str, Any]]:
    """Totals per value of the annotation ``key`` (``site_id`` or ``trunk_id``, see ``attribution.annotate``),
    named from ``names``; the row of records attributed to nothing has the name None and comes last."""
    rows = queryset.order_by().values(key).annotate(**_aggregates())
    return sorted(({"name": names.get(r[key]), **{k: r[k] for k in TOTAL_KEYS}} for r in rows),
                  key=lambda r: (r["name"] is None, r["name"] or ""))


def _grouped_in_one_pass(queryset: QuerySet, site_names: dict[int, str],
                         trunk_names: dict[int, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``grouped`` per site and per trunk from one read of the rows (PostgreSQL's ``GROUPING SETS``): the rows
    of a period are found, and their site and trunk computed, once instead of twice."""
    inner, params = (queryset.order_by().values("site_id", "trunk_id", "disposition", "duration", "billsec")
                     .query.sql_with_params())
    others = [d for d, key in DISPOSITION_KEYS.items() if key != "answered"]
    counts = "".join(", count(*) FILTER (WHERE disposition = %s)" for _ in others)
    sql = (f"SELECT GROUPING(site_id), site_id, trunk_id, count(*), "
           f"count(*) FILTER (WHERE disposition = 'ANSWERED'), "
           f"COALESCE(sum(duration), 0), COALESCE(sum(billsec), 0){counts} "
           f"FROM ({inner}) AS records GROUP BY GROUPING SETS ((site_id), (trunk_id))")
    keys = ["calls", "answered", "duration", "billsec", *[DISPOSITION_KEYS[d] for d in others]]
    sites, trunks = [], []
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, [*others, *params])
        for by_trunk, site_id, trunk_id, *values in cursor.fetchall():
            if by_trunk:
                trunks.append({"name": trunk_names.get(trunk_id), **dict(zip(keys, values))})
            else:
                sites.append({"name": site_names.get(site_id), **dict(zip(keys, values))})

    def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(({"name": r["name"], **{k: r[k] for k in TOTAL_KEYS}} for r in rows),
                      key=lambda r: (r["name"] is None, r["name"] or ""))

    return ordered(sites), ordered(trunks)


@contextlib.contextmanager
def _planned_for_a_period(queryset: QuerySet, period: bool) -> Iterator[None]:
    """PostgreSQL plans these aggregations badly on its own (measured on bench/cdr_api.py's 1.1 M records):

    * the view's conference-leg columns (sub-queries on ``cel``) make every statement look expensive enough
      for JIT compilation, which alone took ~0.9 s of a 1 s query over one day;
    * their estimated cost, counted the same whichever way the rows are found, swamps the difference
      between a ``(start, id)`` index range scan and a sequential scan, and the planner picked the
      latter: 290 ms instead of 60 ms for one day of 47,000 records.

    So, for these statements only (``SET LOCAL`` ends with the transaction), JIT is off and, when a start time
    bounds the rows, the index is used.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=queryset.db):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off" + ("; SET LOCAL enable_seqscan = off" if period else ""))
        yield


def site_and_trunk_totals(queryset: QuerySet, site_list: list, trunk_list: list, *,
                          period: bool = False) -> dict[str, Any]:
    """``{"sites": [...], "trunks": [...], "all": {...}}`` for an annotated, filtered queryset of call records.

    ``all`` adds ``other`` (records whose disposition is none of Asterisk's) and ``billable_minutes``.
    ``period``: the queryset is bounded by a start time (the index is the way to its rows).
    """
    site_names, trunk_names = {s.pk: s.slug for s in site_list}, {t.pk: t.name for t in trunk_list}
    if connections[queryset.db].vendor == "postgresql":
        with _planned_for_a_period(queryset, period):
            sites, trunks = _grouped_in_one_pass(queryset, site_names, trunk_names)
    else:  # (the embedded SQLite has no GROUPING SETS: one GROUP BY each)
        sites, trunks = grouped(queryset, "site_id", site_names), grouped(queryset, "trunk_id", trunk_names)
    overall = {k: sum(r[k] for r in sites) for k in TOTAL_KEYS}
    overall["other"] = overall["calls"] - sum(overall[k] for k in DISPOSITION_KEYS.values())
    overall["billable_minutes"] = round(overall["billsec"] / 60, 1)
    return {"sites": sites, "trunks": trunks, "all": overall}
