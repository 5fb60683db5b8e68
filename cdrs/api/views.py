"""Call records for billing: keyset-paginated list, a streamed CSV export and totals per site and trunk.

One queryset over the view ``call_record`` (Asterisk's ``cdr`` + Kamailio's ``acc_cdrs``, see cdrs/models.py).
"""
from __future__ import annotations

import datetime
import io
from typing import Iterator

from django.conf import settings
from django.db import connections
from django.db.models.expressions import RawSQL
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers
from rest_framework.decorators import action
from rest_framework.response import Response

from voipadmin import csvsafe
from voipadmin.api.pagination import KeysetPagination
from voipadmin.api.viewsets import EstateReadOnlyViewSet

from .. import attribution, totals
from ..filtersets import CdrFilterSet
from ..models import CallRecord
from .serializers import CdrSerializer, TotalsSerializer

EXPORT_COLUMNS = ["id", "start", "answer", "end", "src", "dst", "clid", "dcontext", "channel", "dstchannel",
                  "lastapp", "lastdata", "duration", "billsec", "disposition", "amaflags", "accountcode",
                  "peeraccount", "userfield", "uniqueid", "linkedid", "sequence"]
# After the attribution (site, trunk): a column added at the end moves no existing one.
EXPORT_TAIL = ["source"]
_TIME_COLUMNS = [EXPORT_COLUMNS.index(c) for c in ("start", "answer", "end")]
EXPORT_CHUNK_ROWS = 5000  # rows per server-side cursor fetch and per chunk sent


class CsvRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # errors only; rows are streamed
        return "" if data is None else str(data)


class CdrViewSet(EstateReadOnlyViewSet):
    queryset = CallRecord.objects.all()
    serializer_class = CdrSerializer
    filterset_class = CdrFilterSet
    pagination_class = KeysetPagination
    filter_backends = [EstateReadOnlyViewSet.filter_backends[0]]  # ordering is the paginator's (allow-listed)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._sites, self._trunks = attribution.visible(request.user)

    def get_queryset(self):
        return attribution.annotate(CallRecord.objects.all(), getattr(self, "_sites", None),
                                    getattr(self, "_trunks", None))

    def get_renderers(self):
        if getattr(self, "action", None) == "export":
            return [renderers.JSONRenderer(), CsvRenderer()]  # JSON for errors, CSV when asked for
        return super().get_renderers()

    def get_serializer_context(self):
        ctx = super().get_serializer_context()
        ctx["site_names"] = {s.pk: s.slug for s in getattr(self, "_sites", [])}
        ctx["trunk_names"] = {t.pk: t.name for t in getattr(self, "_trunks", [])}
        return ctx

    @extend_schema(
        summary="CDRs as CSV, streamed",
        description="Same filters and ordering as the list; all matching rows, streamed with constant memory.",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)})
    def export(self, request):
        """Routed at /api/v1/cdrs/export.csv by cdrs/api/urls.py (no trailing slash, like a file)."""
        queryset = self.filter_queryset(self.get_queryset())
        descending = KeysetPagination().descending(request)
        queryset = KeysetPagination().order(queryset.filter(start__isnull=False), descending)
        rows = _export_rows(attribution.annotate_names(queryset, self._sites, self._trunks))
        response = StreamingHttpResponse(_csv_chunks(_keyset_pages(rows, descending)),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="cdrs.csv"'
        return response

    @extend_schema(summary="Totals per site and per trunk for a period (same filters as the list)",
                   responses=TotalsSerializer)
    @action(detail=False, methods=["get"], pagination_class=None)
    def totals(self, request):
        filterset = self.filterset_class(request.query_params, queryset=CallRecord.objects.all(), request=request)
        cleaned = filterset.form.cleaned_data if filterset.is_valid() else {}
        queryset = self.filter_queryset(self.get_queryset())
        bounded = cleaned.get("since") is not None  # (a start bound: the index is the way to the rows)
        result = totals.site_and_trunk_totals(queryset, self._sites, self._trunks, period=bounded)
        data = {"since": cleaned.get("since"), "until": cleaned.get("until"),
                "sites": result["sites"], "trunks": result["trunks"]}
        return Response(TotalsSerializer(data).data)


UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
PG_UTC_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'


def _export_rows(queryset):
    """The export's values; on PostgreSQL the times are formatted by the server (UTC, ISO 8601).

    Converting three timestamps per row in Python was half the export's time.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.values_list(*EXPORT_COLUMNS, "site_name", "trunk_name", *EXPORT_TAIL, *_KEY)
    qn = connection.ops.quote_name
    zone = getattr(settings, "CDR_TIME_ZONE", "UTC")
    texts = {f"{name}_utc": RawSQL(f"to_char(({qn(CallRecord._meta.db_table)}.{qn(name)} AT TIME ZONE %s) "
                                   f"AT TIME ZONE 'UTC', '{PG_UTC_FORMAT}')", [zone])
             for name in ("start", "answer", "end")}
    columns = [f"{c}_utc" if c in ("start", "answer", "end") else c for c in EXPORT_COLUMNS]
    return queryset.annotate(**texts).values_list(*columns, "site_name", "trunk_name", *EXPORT_TAIL, *_KEY)


#: each exported row ends with its (start, id) key, which _keyset_pages reads and strips
_KEY = ("start", "pk")


def _keyset_pages(rows, descending: bool) -> Iterator[tuple]:
    """Every row of ``rows`` (ordered by start, id), read EXPORT_CHUNK_ROWS at a time, one keyset query each.

    Each page is one short statement in autocommit, the next one starting after the last row sent
    (the list's own ``(start, id)`` walk): a client that stalls the download holds no transaction,
    snapshot or cursor open on the server, only this generator and its last key. Memory stays that of
    one page whatever the number of rows; a row written during the export shows if it sorts later.
    """
    page = rows
    while True:
        batch = list(page[:EXPORT_CHUNK_ROWS])
        for row in batch:
            yield row[:-len(_KEY)]
        if len(batch) < EXPORT_CHUNK_ROWS:
            return
        page = KeysetPagination().after(rows, batch[-1][-len(_KEY):], descending)


def _csv_chunks(rows) -> Iterator[bytes]:
    """The CSV in chunks of EXPORT_CHUNK_ROWS rows, from an iterable of row tuples (see _keyset_pages)."""
    buffer = io.StringIO()
    writer = csvsafe.Writer(buffer, lineterminator="\r\n")  # every text cell: no spreadsheet formula
    writer.writerow([*EXPORT_COLUMNS, "site", "trunk", *EXPORT_TAIL])
    yield buffer.getvalue().encode()
    count = 0
    buffer.seek(0)
    buffer.truncate()
    for row in rows:
        cells = list(row)
        for i in _TIME_COLUMNS:
            if cells[i] is not None and not isinstance(cells[i], str):
                cells[i] = cells[i].astimezone(datetime.timezone.utc).strftime(UTC_FORMAT)
        writer.writerow(cells)
        count += 1
        if count == EXPORT_CHUNK_ROWS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            count = 0
    if count:
        yield buffer.getvalue().encode()
