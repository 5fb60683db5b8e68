"""The call records page (administrators and billing staff), with the API's FilterSet and totals.

Besides the list: a period picker with quick periods, the callers and callees who are portal users linked to
their pages, the totals of the filtered records and a chart per site and per trunk (``cdrs.totals``, the
aggregation the API's ``/cdrs/totals/`` answers with), and the CSV export of the same filters. The number of
queries does not depend on the rows shown: one aggregation (only when a period is chosen: a page load never
aggregates the whole table), one lookup of the users on the page.
"""
from __future__ import annotations

import datetime
from typing import Any

from django.http import QueryDict
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy as _, pgettext


from voipadmin import scope
from voipadmin.views import Column, ObjectListView

from . import attribution, ranges, totals
from .filtersets import CdrFilterSet
from .models import CallRecord, Disposition, disposition_label

#: the query parameters of the list itself, not filters: the export does not take them
_PAGE_PARAMETERS = ("page", "per_page", "sort")


class CdrListView(ObjectListView):
    model = CallRecord
    template_name = "cdrs/cdr_list.html"
    filterset_class = CdrFilterSet
    columns = [Column(_("Start"), "start"), Column(_("Source"), "src"), Column(_("Destination"), "dst"),
               Column(_("Caller ID"), "clid"), Column(_("Disposition"), lambda r: disposition_label(r.disposition)),
               Column(_("Duration (s)"), "duration"), Column(_("Billable (s)"), "billsec"),
               Column(_("Site"), "site_name"), Column(_("Trunk"), "trunk_name"), Column(_("Channel"), "channel"),
               Column(_("Destination channel"), "dstchannel"), Column(_("Recorded by"), "source")]
    #: the columns (by accessor: headers are translated) whose numbers are linked to the user with that extension
    user_columns = ("src", "dst")

    def request_time(self) -> datetime.datetime:
        """The time the quick periods are computed from (tests replace it: no test reads the clock)."""
        return timezone.now()

    def get_queryset(self):
        self._sites, self._trunks = attribution.visible(self.request.user)
        return attribution.annotate(CallRecord.objects.filter(start__isnull=False).order_by("-start", "-id"),
                                    self._sites, self._trunks)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        sites = {s.pk: s.slug for s in self._sites}
        trunks = {t.pk: t.name for t in self._trunks}
        for obj, _cells in ctx["rows"]:
            obj.site_name, obj.trunk_name = sites.get(obj.site_id), trunks.get(obj.trunk_id)
        ctx["rows"] = self._rows_with_user_links([obj for obj, _ in ctx["rows"]])
        filterset = ctx["filterset"]
        export = self.request.GET.copy()
        for name in _PAGE_PARAMETERS:
            export.pop(name, None)
        ctx["export_query"] = export.urlencode()
        shown = self.request.GET.copy()  # a quick period keeps the filters, the order and the page size
        shown.pop("page", None)
        ctx["periods"] = self._periods(shown)
        valid = filterset.is_bound and filterset.is_valid()
        cleaned = filterset.form.cleaned_data if valid else {}
        period = cleaned.get("since") is not None  # (an "until" alone would be most of the table)
        ctx["period"] = period
        if period:  # a period bounds the aggregation: never the whole table on a page load
            result = totals.site_and_trunk_totals(filterset.qs, self._sites, self._trunks, period=True)
            ctx["totals"] = result["all"]
            ctx["dispositions"] = [(label, result["all"][totals.DISPOSITION_KEYS[value]])
                                   for value, label in Disposition.choices]
            ctx["chart_data"] = chart_data(result)
        return ctx

    def _rows_with_user_links(self, objs: list) -> list[tuple[Any, list[Any]]]:
        """The rows, with each source or destination number that is a user's extension linked to that user
        (one query for the page, whatever the number of rows)."""
        from users.models import SipUser

        indexes = [i for i, c in enumerate(self.columns) if c.accessor in self.user_columns]
        rows = [(obj, [c.value(obj) for c in self.columns]) for obj in objs]
        numbers = {int(cells[i]) for _obj, cells in rows for i in indexes
                   if isinstance(cells[i], str) and cells[i].isascii() and cells[i].isdigit() and len(cells[i]) <= 10}
        if not numbers:
            return rows
        users = {str(u.extension): u
                 for u in scope.restrict(SipUser.objects.filter(extension__in=numbers), self.request.user)
                 .only("id", "extension", "name")}
        for _obj, cells in rows:
            for i in indexes:
                user = users.get(cells[i])
                if user is not None:
                    cells[i] = format_html('<a href="{}" class="va-user-link" title="{}">{}</a>',
                                           user.get_absolute_url(), user.name, cells[i])
        return rows

    def _periods(self, filters: QueryDict) -> list[dict[str, Any]]:
        """The quick periods as links that keep the other filters; the one shown now is marked."""
        links = []
        current = (self.request.GET.get("since"), self.request.GET.get("until"))
        for period in ranges.quick_periods(self.request_time()):
            query, bounds = filters.copy(), period.query()
            query["since"], query["until"] = bounds["since"], bounds["until"]
            links.append({"key": period.key, "label": period.label, "url": "?" + query.urlencode(),
                          "active": current == (bounds["since"], bounds["until"])})
        return links


def chart_data(result: dict[str, Any]) -> dict[str, Any]:
    """What the page's charts draw (static/cdrs/cdr_charts.js): per site and per trunk, the answered and other
    calls and the billable minutes. Records attributed to no site or trunk are "(none)"."""

    def series(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"labels": [r["name"] if r["name"] is not None else gettext("(none)") for r in rows],

                "answered": [r["answered"] for r in rows],
                "unanswered": [r["calls"] - r["answered"] for r in rows],
                "minutes": [round(r["billsec"] / 60, 1) for r in rows]}

    words = {"answered": pgettext("calls", "Answered"), "unanswered": gettext("Not answered"),
             "minutes": gettext("Billable minutes"), "calls_axis": gettext("calls"), "minutes_axis": gettext("minutes")}
    return {"sites": series(result["sites"]), "trunks": series(result["trunks"]), "words": words}

