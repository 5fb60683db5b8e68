from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from trunks.views import TabsMixin as _TrunkTabsMixin
from voipadmin.views import Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectListView, PortalView

from . import actions, estate
from .choices import RouteTo
from .filtersets import DispatcherSetFilterSet, InboundNumberFilterSet, ServiceCodeFilterSet
from .forms import DispatcherSetForm, InboundNumberForm, ServiceCodeForm
from .models import DispatcherDestination, DispatcherSet, InboundNumber, ServiceCode
from .projection import code_attrs, code_steps, fallback_setid, fallback_sets

TABS = [("Service codes", "services:servicecode_list", "services.view_servicecode"),
        ("Dispatcher sets", "services:dispatcherset_list", "services.view_dispatcherset"),
        ("Inbound numbers", "services:inboundnumber_list", "services.view_inboundnumber"),
        ("Estate check", "services:estate_check", "services.change_servicecode")]


class TabsMixin(_TrunkTabsMixin):
    template_name = "services/tabbed_list.html"
    tabs = TABS
    index_name = "services:index"


def _target(code: ServiceCode) -> str:
    if code.route_to == "set":
        return f"set {code.dispatcher_set}" if code.dispatcher_set_id else "—"
    if code.route_to == "node":
        return f"node {code.node}" if code.node_id else "—"
    return "caller's home site"


class ServiceCodeListView(TabsMixin, ObjectListView):
    model = ServiceCode
    filterset_class = ServiceCodeFilterSet
    columns = [Column("Code", "code", link=True), Column("Name", "name"), Column("Kind", "kind"),
               Column("Served by", _target), Column("Announcement", "announcement"), Column("Enabled", "enabled")]

    def get_queryset(self):
        return ServiceCode.objects.select_related("dispatcher_set", "node")


class ServiceCodeDetailView(ObjectDetailView):
    model = ServiceCode
    template_name = "services/servicecode_detail.html"
    fields = [Column("Code", "code"), Column("Name", "name"), Column("Kind", "kind"), Column("Enabled", "enabled"),
              Column("Served by", _target), Column("Announcement", "announcement"), Column("Parameter", "parameter"),
              Column("Kamailio dialplan (dpid 1) attrs", code_attrs), Column("Description", "description")]

    def get_queryset(self):
        return ServiceCode.objects.select_related("dispatcher_set", "node")

    def get_context_data(self, **kwargs):
        from sites.models import Site

        ctx = super().get_context_data(**kwargs)
        site = Site.objects.order_by("kind", "name").first()
        ctx["example_site"] = site
        ctx["asterisk_steps"] = code_steps(self.object, site) if site else []
        return ctx


class ServiceCodeEditView(ObjectEditView):
    model = ServiceCode
    form_class = ServiceCodeForm
    create_action = staticmethod(actions.create_service_code)
    update_action = staticmethod(actions.update_service_code)


class ServiceCodeDeleteView(ObjectDeleteView):
    model = ServiceCode
    delete_action = staticmethod(actions.delete_service_code)


def _destinations(dset: DispatcherSet) -> str:
    return ", ".join(f"{d.node.name} (p{d.priority} w{d.weight})" for d in dset.destinations.all())


_DESTS = Prefetch("destinations", queryset=DispatcherDestination.objects.select_related("node")
                  .order_by("-priority", "node__name"))


class DispatcherSetListView(TabsMixin, ObjectListView):
    model = DispatcherSet
    filterset_class = DispatcherSetFilterSet
    columns = [Column("Name", "name", link=True), Column("Set id", "setid"), Column("Algorithm", "algorithm"),
               Column("Destinations", _destinations), Column("Description", "description")]

    def get_queryset(self):
        return DispatcherSet.objects.prefetch_related(_DESTS)


class DispatcherSetDetailView(ObjectDetailView):
    model = DispatcherSet
    template_name = "services/dispatcherset_detail.html"
    fields = [Column("Name", "name"), Column("Kamailio set id", "setid"), Column("Algorithm", "algorithm"),
              Column("Description", "description")]

    def get_queryset(self):
        return DispatcherSet.objects.prefetch_related(_DESTS, "service_codes")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        sets = fallback_sets()
        codes = ServiceCode.objects.exclude(route_to=RouteTo.DISPATCHER_SET).filter(enabled=True)
        ctx["fallback_for"] = [c for c in codes if fallback_setid(c, sets) == self.object.setid]
        return ctx


class DispatcherSetEditView(ObjectEditView):
    model = DispatcherSet
    form_class = DispatcherSetForm
    create_action = staticmethod(actions.create_dispatcher_set)
    update_action = staticmethod(actions.update_dispatcher_set)


class DispatcherSetDeleteView(ObjectDeleteView):
    model = DispatcherSet
    delete_action = staticmethod(actions.delete_dispatcher_set)


def _answered_by(ddi: InboundNumber) -> str:
    if ddi.target == "service":
        return f"service {ddi.service_code}" if ddi.service_code_id else "—"
    return f"user {ddi.user}" if ddi.user_id else "—"


class InboundNumberListView(TabsMixin, ObjectListView):
    model = InboundNumber
    filterset_class = InboundNumberFilterSet
    columns = [Column("Number", "number", link=True), Column("Answered by", _answered_by),
               Column("Trunk", "trunk"), Column("Enabled", "enabled"), Column("Description", "description")]

    def get_queryset(self):
        return InboundNumber.objects.select_related("user", "service_code", "trunk")


class InboundNumberDetailView(ObjectDetailView):
    model = InboundNumber
    fields = [Column("Number", "number"), Column("Answered by", _answered_by), Column("Trunk", "trunk"),
              Column("Kamailio (dpid 3) rewrites to", "destination"), Column("Enabled", "enabled"),
              Column("Description", "description")]

    def get_queryset(self):
        return InboundNumber.objects.select_related("user", "service_code", "trunk")


class InboundNumberEditView(ObjectEditView):
    model = InboundNumber
    form_class = InboundNumberForm
    create_action = staticmethod(actions.create_inbound_number)
    update_action = staticmethod(actions.update_inbound_number)


class InboundNumberDeleteView(ObjectDeleteView):
    model = InboundNumber
    delete_action = staticmethod(actions.delete_inbound_number)


class EstateCheckView(PortalView, TemplateView):
    """Database versus Kamailio memory and each Asterisk's files versus the portal's, for administrators;
    POST repairs (re-project + reload; an Asterisk file is reloaded only when on its node as generated)."""

    model = ServiceCode
    perm_action = "change"
    template_name = "services/estate_check.html"

    def get_permission_required(self):
        return ["services.change_servicecode", "services.change_dispatcherset", "trunks.change_trunk"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["report"] = estate.check_estate()
        ctx["add_url"] = None
        return ctx

    def post(self, request, *args, **kwargs):
        done = estate.repair(reason=f"estate check repair by {request.user.get_username()}")
        messages.success(request, f"Repair requested: tables re-projected, {done.describe()} queued.")
        for line in done.not_repaired:
            messages.warning(request, f"Not repaired: {line}")
        return HttpResponseRedirect(reverse("services:estate_check"))
