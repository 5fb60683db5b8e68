from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View

from voipadmin.fields import secret_state
from voipadmin.views import (BulkAction, BulkView, Column, ObjectDeleteView, ObjectDetailView, ObjectEditView,
                             ObjectListView, PortalView)

from . import actions
from .choices import TrunkKind
from .filtersets import E1TrunkFilterSet, ItspTrunkFilterSet, OutboundRouteFilterSet, TrunkFilterSet
from .forms import E1TrunkForm, ItspTrunkForm, OutboundRouteForm
from .models import E1Trunk, ItspTrunk, OutboundRoute, RouteTrunk, Trunk

TABS = [("All trunks", "trunks:trunk_list", "trunks.view_trunk"),
        ("E1", "trunks:e1trunk_list", "trunks.view_e1trunk"),
        ("ITSP", "trunks:itsptrunk_list", "trunks.view_itsptrunk"),
        ("Outbound routes", "trunks:outboundroute_list", "trunks.view_outboundroute")]


class TabsMixin:
    """Sub-navigation between the app's lists (the nav entry lands on the first)."""

    template_name = "trunks/tabbed_list.html"
    tabs = TABS

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        path = self.request.path
        ctx["tabs"] = [{"label": label, "url": reverse(name), "active": reverse(name) == path or
                        (name == self.tabs[0][1] and path == reverse(self.index_name))}
                       for label, name, perm in self.tabs if self.request.user.has_perm(perm)]
        return ctx

    index_name = "trunks:index"


def _trunk_summary(trunk: Trunk) -> str:
    detail = trunk.specific()
    if trunk.kind == TrunkKind.E1:
        return (f"{detail.asterisk_node} span {detail.span} · {detail.get_role_display()} · "
                f"{detail.get_signalling_display()}")
    return f"{detail.dispatcher_uri} · {detail.get_auth_mode_display().split(' (')[0]}"


def _route_trunks(route: OutboundRoute) -> str:
    return " → ".join(link.trunk.name for link in route.route_trunks.all())


def _trunk_routes(trunk: Trunk) -> str:
    return ", ".join(sorted({link.route.name for link in trunk.route_trunks.all()}))


_LINKS = Prefetch("route_trunks", queryset=RouteTrunk.objects.select_related("route"))


TRUNK_BULK_ACTIONS = [
    BulkAction("enable", "Enable", "change", icon="bi-toggle-on", done="Enabled",
               plan=lambda trunks: actions.plan_bulk_update(trunks, enabled=True),
               apply=lambda trunks, *, actor: actions.bulk_update_trunks(trunks, actor=actor, enabled=True,
                                                                           message="Bulk enable")),
    BulkAction("disable", "Disable", "change", icon="bi-toggle-off", done="Disabled",
               plan=lambda trunks: actions.plan_bulk_update(trunks, enabled=False),
               apply=lambda trunks, *, actor: actions.bulk_update_trunks(trunks, actor=actor, enabled=False,
                                                                           message="Bulk disable")),
    BulkAction("delete", "Delete", "delete", icon="bi-trash", style="outline-danger", done="Deleted",
               plan=actions.plan_bulk_delete, apply=actions.bulk_delete_trunks),
]


class TrunkBulkView(BulkView):
    """Enable, disable or delete the trunks selected on the "All trunks" list (confirmation first)."""

    model = Trunk
    bulk_actions = TRUNK_BULK_ACTIONS


class TrunkListView(TabsMixin, ObjectListView):
    model = Trunk
    filterset_class = TrunkFilterSet
    columns = [Column("Name", "name", link=True, order_by=True), Column("Kind", "kind", order_by=True),
               Column("Where", _trunk_summary), Column("Routes", _trunk_routes),
               Column("Enabled", "enabled", order_by=True)]
    bulk_actions = TRUNK_BULK_ACTIONS
    bulk_url_name = "trunks:trunk_bulk"

    def get_queryset(self):
        return (Trunk.objects.select_related("e1trunk__asterisk_node", "itsptrunk")
                .prefetch_related(_LINKS))


class E1TrunkListView(TabsMixin, ObjectListView):
    model = E1Trunk
    filterset_class = E1TrunkFilterSet
    columns = [Column("Name", "name", link=True, order_by=True),
               Column("Asterisk node", "asterisk_node", order_by="asterisk_node__name"),
               Column("Span", "span", order_by=True), Column("Channels", "channels", order_by=True),
               Column("Group", "group", order_by=True), Column("Signalling", "signalling", order_by=True),
               Column("Switch type", "switch_type", order_by=True), Column("Role", "role", order_by=True),
               Column("Routes", _trunk_routes), Column("Enabled", "enabled", order_by=True)]

    def get_queryset(self):
        return E1Trunk.objects.select_related("asterisk_node").prefetch_related(_LINKS)


class E1TrunkDetailView(ObjectDetailView):
    model = E1Trunk
    fields = [Column("Name", "name"), Column("Enabled", "enabled"), Column("Asterisk node", "asterisk_node"),
              Column("Span", "span"), Column("Channels", "channels"), Column("DAHDI group", "group"),
              Column("Signalling", "signalling"), Column("Switch type", "switch_type"), Column("Role", "role"),
              Column("Asterisk dials", "asterisk_dial"),
              Column("Kamailio destination", "dispatcher_uri"), Column("Used by routes", _trunk_routes),
              Column("Description", "description")]

    def get_queryset(self):
        return E1Trunk.objects.select_related("asterisk_node").prefetch_related(_LINKS)


class E1TrunkEditView(ObjectEditView):
    model = E1Trunk
    form_class = E1TrunkForm
    create_action = staticmethod(actions.create_e1_trunk)
    update_action = staticmethod(actions.update_e1_trunk)


class E1TrunkDeleteView(ObjectDeleteView):
    model = E1Trunk
    delete_action = staticmethod(actions.delete_trunk)


def _itsp_auth(trunk: ItspTrunk) -> str:
    if trunk.auth_mode == "ip":
        nets = ", ".join(f"{ip}/{mask}" for ip, mask in trunk.ip_networks)
        return f"by IP: {nets} (address group {trunk.address_group})"
    return f"by registration as {trunk.username} (password {secret_state(trunk.auth_password)})"


class ItspTrunkListView(TabsMixin, ObjectListView):
    model = ItspTrunk
    filterset_class = ItspTrunkFilterSet
    columns = [Column("Name", "name", link=True, order_by=True), Column("SIP", "dispatcher_uri", order_by="host"),
               Column("Auth", "auth_mode", order_by=True),
               Column("Caller ID", "caller_id_presentation", order_by=True), Column("Routes", _trunk_routes),
               Column("Enabled", "enabled", order_by=True)]

    def get_queryset(self):
        return ItspTrunk.objects.prefetch_related(_LINKS)


class ItspTrunkDetailView(ObjectDetailView):
    model = ItspTrunk
    fields = [Column("Name", "name"), Column("Enabled", "enabled"), Column("SIP URI", "dispatcher_uri"),
              Column("Authentication", _itsp_auth), Column("Realm", "realm"), Column("Proxy", "proxy"),
              Column("Registration expiry (s)", "expires"), Column("Caller ID", "caller_id_presentation"),
              Column("Main number", "caller_id_number"), Column("Used by routes", _trunk_routes),
              Column("Description", "description")]

    def get_queryset(self):
        return ItspTrunk.objects.prefetch_related(_LINKS)


class ItspTrunkEditView(ObjectEditView):
    model = ItspTrunk
    form_class = ItspTrunkForm
    create_action = staticmethod(actions.create_itsp_trunk)
    update_action = staticmethod(actions.update_itsp_trunk)


class ItspTrunkDeleteView(ObjectDeleteView):
    model = ItspTrunk
    delete_action = staticmethod(actions.delete_trunk)


def _rewrite(route: OutboundRoute) -> str:
    parts = []
    if route.strip:
        parts.append(f"strip {route.strip}")
    if route.prepend:
        parts.append(f"prepend {route.prepend}")
    return ", ".join(parts) or "—"


class OutboundRouteListView(TabsMixin, ObjectListView):
    model = OutboundRoute
    filterset_class = OutboundRouteFilterSet
    columns = [Column("Name", "name", link=True, order_by=True), Column("Kind", "kind", order_by=True),
               Column("Pattern", "pattern", order_by=True), Column("Rewrite", _rewrite),
               Column("Trunks (in order)", _route_trunks), Column("Priority", "priority", order_by=True),
               Column("Enabled", "enabled", order_by=True)]

    def get_queryset(self):
        return OutboundRoute.objects.prefetch_related(
            Prefetch("route_trunks", queryset=RouteTrunk.objects.select_related("trunk").order_by("position")))


class OutboundRouteDetailView(ObjectDetailView):
    model = OutboundRoute
    fields = [Column("Name", "name"), Column("Kind", "kind"), Column("Enabled", "enabled"),
              Column("Pattern", "pattern"), Column("Priority", "priority"), Column("Rewrite", _rewrite),
              Column("Trunks (in order)", _route_trunks),
              Column("Kamailio", lambda r: f"dialplan dpid 2, dispatcher set {r.setid} (algorithm 8: by priority)"),
              Column("Description", "description")]

    def get_queryset(self):
        return OutboundRoute.objects.prefetch_related(
            Prefetch("route_trunks", queryset=RouteTrunk.objects.select_related("trunk").order_by("position")))


class OutboundRouteEditView(ObjectEditView):
    model = OutboundRoute
    form_class = OutboundRouteForm
    create_action = staticmethod(actions.create_route)
    update_action = staticmethod(actions.update_route)


class OutboundRouteDeleteView(ObjectDeleteView):
    model = OutboundRoute
    delete_action = staticmethod(actions.delete_route)


class TrunkRedirectView(PortalView, View):
    """``/trunks/<pk>/``: the E1 or ITSP page of a trunk."""

    model = Trunk

    def get(self, request, pk):
        return HttpResponseRedirect(get_object_or_404(Trunk, pk=pk).get_absolute_url())
