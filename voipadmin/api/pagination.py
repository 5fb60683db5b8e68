"""Keyset ("cursor") pagination on an indexed ``(time, id)`` pair.

A page deep in a million rows costs what the first page costs: the cursor carries the last
row's key and the next page is ``WHERE (time, id) < (…, …) ORDER BY time DESC, id DESC LIMIT n``,
one walk of the ``(time, id)`` index — no OFFSET, no COUNT.

The cursor is that key, spelled so the schema can say exactly what one is (``CURSOR``): ``n`` (the
page after it) or ``p`` (the page before it), the time in microseconds since 1970-01-01 UTC, ``.``,
the id — ``n1793521800000000.42``. Every string of that shape is a position, answered (a time past
either end of the calendar is that end: ``voipadmin.filtersets.comparable_time``); anything else is
a forged cursor and a 400. Clients still just follow ``next``/``previous``.
"""
from __future__ import annotations

import datetime
import re
from typing import Any

from django.db import connections
from django.utils.translation import gettext
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from voipadmin.filtersets import EARLIEST, LATEST, comparable_time
from voipadmin.numbers import is_number

#: what a cursor is (ECMA regex, as the OpenAPI schema carries it); 18 digits hold any time Python can
#: (year 1 is -62135596800000000 µs) and any id PostgreSQL's bigint can below 10**18
CURSOR = r"^[np]-?[0-9]{1,18}\.[0-9]{1,18}$"
_CURSOR = re.compile(r"([np])(-?[0-9]{1,18})\.([0-9]{1,18})")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class KeysetPagination(pagination.BasePagination):
    time_field = "start"
    page_size = 100
    max_page_size = 1000
    cursor_query_param = "cursor"
    page_size_query_param = "limit"
    ordering_param = "ordering"

    # --- request parsing -------------------------------------------------------------------------
    def descending(self, request) -> bool:
        """Newest first unless ``?ordering=<time_field>``; any other value is refused (allow-list)."""
        value = request.query_params.get(self.ordering_param) or f"-{self.time_field}"  # (empty: not given)
        if value not in (self.time_field, f"-{self.time_field}"):
            raise exceptions.ValidationError(
                {self.ordering_param: gettext("Cannot order by %(value)s; choose %(field)s or -%(field)s.")
                 % {"value": repr(value), "field": self.time_field}})
        return value.startswith("-")

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:
            return self.page_size
        if not is_number(raw):  # (ASCII digits: int() would also read "١٠")
            raise exceptions.ValidationError({self.page_size_query_param: gettext("Give a whole number.")})
        size = int(raw)
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: gettext("Between 1 and %(maximum)s.") % {"maximum": self.max_page_size}})
        return size

    def decode_cursor(self, request) -> tuple[datetime.datetime, int, bool] | None:
        """The key a cursor carries (see ``CURSOR``); anything else is a 400, never a 500."""
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        match = _CURSOR.fullmatch(raw)
        if match is None:
            raise exceptions.ValidationError({self.cursor_query_param: gettext("Invalid cursor.")})
        direction, micros, pk = match.groups()
        try:
            when = comparable_time(EPOCH + datetime.timedelta(microseconds=int(micros)))
        except OverflowError:  # past year 9999 (or before year 1): every row is on one side of it
            when = LATEST if int(micros) > 0 else EARLIEST
        return when, int(pk), direction == "p"

    @staticmethod
    def encode_cursor(when: datetime.datetime, pk: int, previous: bool) -> str:
        micros = (when - EPOCH) // datetime.timedelta(microseconds=1)
        return f"{'p' if previous else 'n'}{micros}.{pk}"

    # --- the page ----------------------------------------------------------------------------------
    def order(self, queryset, descending: bool):
        sign = "-" if descending else ""
        return queryset.order_by(f"{sign}{self.time_field}", f"{sign}pk")

    def after(self, queryset, key: tuple[datetime.datetime, int], descending: bool):
        """Rows past ``key`` in the walk's direction: one range scan of the ``(time, id)`` index.

        Also how the CSV export reads its rows a page at a time (no transaction held between pages).
        """
        when, pk = key
        model = queryset.model
        field = model._meta.get_field(self.time_field)
        connection = connections[queryset.db]
        qn = connection.ops.quote_name
        try:  # the column's own zone must hold the time too (year 9999 at UTC is year 10000 at +14:00)
            when_db = field.get_db_prep_value(when, connection)
        except (OverflowError, ValueError):
            raise exceptions.ValidationError({self.cursor_query_param: gettext("Invalid cursor.")}) from None
        table = qn(model._meta.db_table)
        return queryset.extra(
            where=[f"({table}.{qn(field.column)}, {table}.{qn(model._meta.pk.column)}) "
                   f"{'<' if descending else '>'} (%s, %s)"],
            params=[when_db, pk])

    def paginate_queryset(self, queryset, request, view=None) -> list[Any]:
        self.request = request
        self.limit = self.get_page_size(request)
        descending = self.descending(request)
        cursor = self.decode_cursor(request)
        backwards = bool(cursor and cursor[2])
        queryset = self.order(queryset.filter(**{f"{self.time_field}__isnull": False}), descending != backwards)
        if cursor:
            queryset = self.after(queryset, cursor[:2], descending != backwards)
        rows = list(queryset[: self.limit + 1])
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        if backwards:
            rows.reverse()
        self.next_key = self.prev_key = None
        if rows:
            first, last = rows[0], rows[-1]
            if more or backwards:
                self.next_key = (getattr(last, self.time_field), last.pk)
            if cursor and (more or not backwards):
                self.prev_key = (getattr(first, self.time_field), first.pk)
        return rows

    def link(self, key, previous: bool) -> str | None:
        if key is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.encode_cursor(*key, previous))

    def get_paginated_response(self, data) -> Response:
        return Response({"next": self.link(self.next_key, False), "previous": self.link(self.prev_key, True),
                         "results": data})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "Where the page starts: the cursor in a previous page's next/previous link "
                            "(n or p, the time of a row in microseconds since 1970-01-01 UTC, '.', its id).",
             "schema": {"type": "string", "pattern": CURSOR}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Rows per page (1–{self.max_page_size}, default {self.page_size}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
            {"name": self.ordering_param, "required": False, "in": "query",
             "description": "Newest first (default) or oldest first.",
             "schema": {"type": "string", "enum": [f"-{self.time_field}", self.time_field]}},
        ]

