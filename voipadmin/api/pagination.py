"""Keyset ("cursor") pagination on an indexed ``(time, id)`` pair.

A page deep in a million rows costs what the first page costs: the cursor carries the last
row's key and the next page is ``WHERE (time, id) < (…, …) ORDER BY time DESC, id DESC LIMIT n``,
one walk of the ``(time, id)`` index — no OFFSET, no COUNT.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import json
from typing import Any

from django.db import connections
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param


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
        value = request.query_params.get(self.ordering_param, f"-{self.time_field}")
        if value not in (self.time_field, f"-{self.time_field}"):
            raise exceptions.ValidationError(
                {self.ordering_param: f"Cannot order by {value!r}; choose {self.time_field} or -{self.time_field}."})
        return value.startswith("-")

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise exceptions.ValidationError({self.page_size_query_param: "Give a whole number."}) from None
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: f"Between 1 and {self.max_page_size}."})
        return size

    def decode_cursor(self, request) -> tuple[datetime.datetime, int, bool] | None:
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode() + b"==="))
            when = parse_datetime(data["t"])
            pk, previous = int(data["i"]), bool(data.get("p"))
            if when is None or when.tzinfo is None:
                raise ValueError
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
            raise exceptions.ValidationError({self.cursor_query_param: "Invalid cursor."}) from None
        return when, pk, previous

    @staticmethod
    def encode_cursor(when: datetime.datetime, pk: int, previous: bool) -> str:
        data = {"t": when.isoformat(), "i": pk, **({"p": 1} if previous else {})}
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

    # --- the page ----------------------------------------------------------------------------------
    def order(self, queryset, descending: bool):
        sign = "-" if descending else ""
        return queryset.order_by(f"{sign}{self.time_field}", f"{sign}pk")

    def paginate_queryset(self, queryset, request, view=None) -> list[Any]:
        self.request = request
        self.limit = self.get_page_size(request)
        descending = self.descending(request)
        cursor = self.decode_cursor(request)
        backwards = bool(cursor and cursor[2])
        queryset = self.order(queryset.filter(**{f"{self.time_field}__isnull": False}), descending != backwards)
        if cursor:
            when, pk, _ = cursor
            model = queryset.model
            field = model._meta.get_field(self.time_field)
            connection = connections[queryset.db]
            qn = connection.ops.quote_name
            op = "<" if descending != backwards else ">"
            queryset = queryset.extra(
                where=[f"({qn(model._meta.db_table)}.{qn(field.column)}, {qn(model._meta.db_table)}."
                       f"{qn(model._meta.pk.column)}) {op} (%s, %s)"],
                params=[field.get_db_prep_value(when, connection), pk])
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
             "description": "Opaque cursor from a previous page's next/previous link.",
             "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Rows per page (1–{self.max_page_size}, default {self.page_size}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
            {"name": self.ordering_param, "required": False, "in": "query",
             "description": "Newest first (default) or oldest first.",
             "schema": {"type": "string", "enum": [f"-{self.time_field}", self.time_field]}},
        ]

