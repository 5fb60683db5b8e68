"""The call records page (administrators and billing staff), with the API's FilterSet."""
from voipadmin.views import Column, ObjectListView

from . import attribution
from .filtersets import CdrFilterSet
from .models import CallRecord


class CdrListView(ObjectListView):
    model = CallRecord
    template_name = "cdrs/cdr_list.html"
    filterset_class = CdrFilterSet
    columns = [Column("Start", "start"), Column("Source", "src"), Column("Destination", "dst"),
               Column("Caller ID", "clid"), Column("Disposition", "disposition"),
               Column("Duration (s)", "duration"), Column("Billable (s)", "billsec"),
               Column("Site", "site_name"), Column("Trunk", "trunk_name"), Column("Channel", "channel"),
               Column("Destination channel", "dstchannel"), Column("Recorded by", "source")]

    def get_queryset(self):
        self._sites, self._trunks = attribution.sites(), attribution.trunks()
        return attribution.annotate(CallRecord.objects.filter(start__isnull=False).order_by("-start", "-id"),
                                    self._sites, self._trunks)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        sites = {s.pk: s.slug for s in self._sites}
        trunks = {t.pk: t.name for t in self._trunks}
        for obj, _cells in ctx["rows"]:
            obj.site_name, obj.trunk_name = sites.get(obj.site_id), trunks.get(obj.trunk_id)
        ctx["rows"] = [(obj, [c.value(obj) for c in self.columns]) for obj, _ in ctx["rows"]]
        ctx["export_query"] = self.request.GET.urlencode()
        return ctx
