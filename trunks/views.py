from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy as _, pgettext_lazy
from django.views import View

from voipadmin.fields import secret_state
from voipadmin.views import (BulkAction, BulkView, Column, ObjectDeleteView, ObjectDetailView, ObjectEditView,
                             ObjectListView, PortalView)

from . import actions
from .choices import TrunkKind
from .filtersets import E1TrunkFilterSet, ItspTrunkFilterSet, OutboundRouteFilterSet, TrunkFilterSet
from .forms import E1TrunkForm, ItspTrunkForm, OutboundRouteForm
from .models import E1Trunk, ItspTrunk, OutboundRoute, RouteTrunk, Trunk

TABS = [(_("All trunks"), "trunks:trunk_list", "trunks.view_trunk"),
        ("E1", "trunks:e1trunk_list", "trunks.view_e1trunk"),
        ("ITSP", "trunks:itsptrunk_list", "trunks.view_itsptrunk"),
        (_("Outbound routes"), "trunks:outboundroute_list", "trunks.view_outboundroute")]


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
        return gettext("%(node)s span %(span)s · %(role)s · %(signalling)s") % {
            "node": detail.asterisk_node, "span": detail.span, "role": detail.get_role_display(),
            "signalling": detail.get_signalling_display()}
    return f"{detail.dispatcher_uri} · {detail.get_auth_mode_display().split(' (')[0]}"


def _route_trunks(route: OutboundRoute) -> str:
    return " → ".join(link.trunk.name for link in route.route_trunks.all())


def _trunk_routes(trunk: Trunk) -> str:
    return ", ".join(sorted({link.route.name for link in trunk.route_trunks.all()}))


_LINKS = Prefetch("route_trunks", queryset=RouteTrunk.objects.select_related("route"))


TRUNK_BULK_ACTIONS = [
    BulkAction("enable", _("Enable"), "change", icon="bi-toggle-on", done=pgettext_lazy("trunks done", "Enabled"),
               plan=lambda trunks: actions.plan_bulk_update(trunks, enabled=True),
               apply=lambda trunks, *, actor: actions.bulk_update_trunks(trunks, actor=actor, enabled=True,
                                                                           message="Bulk enable")),
    BulkAction("disable", _("Disable"), "change", icon="bi-toggle-off", done=pgettext_lazy("trunks done", "Disabled"),
               plan=lambda trunks: actions.plan_bulk_update(trunks, enabled=False),
               apply=lambda trunks, *, actor: actions.bulk_update_trunks(trunks, actor=actor, enabled=False,
                                                                           message="Bulk disable")),
    BulkAction("delete", _("Delete"), "delete", icon="bi-trash", style="outline-danger",
               done=pgettext_lazy("trunks done", "Deleted"),
               plan=actions.plan_bulk_delete, apply=actions.bulk_delete_trunks),
]


class TrunkBulkView(BulkView):
    """Enable, disable or delete the trunks selected on the "All trunks" list (confirmation first)."""

    model = Trunk
    bulk_actions = TRUNK_BULK_ACTIONS


class TrunkListView(TabsMixin, ObjectListView):
    model = Trunk
    filterset_class = TrunkFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True), Column(_("Kind"), "kind", order_by=True),
               Column(_("Where"), _trunk_summary), Column(_("Routes"), _trunk_routes),
               Column(_("Enabled"), "enabled", order_by=True)]
    bulk_actions = TRUNK_BULK_ACTIONS
    bulk_url_name = "trunks:trunk_bulk"

    def get_queryset(self):
        return (Trunk.objects.select_related("e1trunk__asterisk_node", "itsptrunk")
                .prefetch_related(_LINKS))


class E1TrunkListView(TabsMixin, ObjectListView):
    model = E1Trunk
    filterset_class = E1TrunkFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True),
               Column(_("Asterisk node"), "asterisk_node", order_by="asterisk_node__name"),
               Column(_("Span"), "span", order_by=True), Column(_("Channels"), "channels", order_by=True),
               Column(_("Group"), "group", order_by=True), Column(_("Signalling"), "signalling", order_by=True),
               Column(_("Switch type"), "switch_type", order_by=True), Column(_("Role"), "role", order_by=True),
               Column(_("Routes"), _trunk_routes), Column(_("Enabled"), "enabled", order_by=True)]

    def get_queryset(self):
        return E1Trunk.objects.select_related("asterisk_node").prefetch_related(_LINKS)


class E1TrunkDetailView(ObjectDetailView):
    model = E1Trunk
    fields = [Column(_("Name"), "name"), Column(_("Enabled"), "enabled"), Column(_("Asterisk node"), "asterisk_node"),
              Column(_("Span"), "span"), Column(_("Channels"), "channels"), Column(_("DAHDI group"), "group"),
              Column(_("Signalling"), "signalling"), Column(_("Switch type"), "switch_type"),
              Column(_("Role"), "role"), Column(_("Asterisk dials"), "asterisk_dial"),
              Column(_("Kamailio destination"), "dispatcher_uri"), Column(_("Used by routes"), _trunk_routes),
              Column(_("Description"), "description")]

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
        return gettext("by IP: %(networks)s (address group %(group)s)") % {"networks": nets,
                                                                          "group": trunk.address_group}
    return gettext("by registration as %(username)s (password %(password)s)") % {
        "username": trunk.username, "password": secret_state(trunk.auth_password)}


class ItspTrunkListView(TabsMixin, ObjectListView):
    model = ItspTrunk
    filterset_class = ItspTrunkFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True), Column("SIP", "dispatcher_uri", order_by="host"),
               Column(_("Auth"), "auth_mode", order_by=True),
               Column(_("Caller ID"), "caller_id_presentation", order_by=True), Column(_("Routes"), _trunk_routes),
               Column(_("Enabled"), "enabled", order_by=True)]

    def get_queryset(self):
        return ItspTrunk.objects.prefetch_related(_LINKS)


class ItspTrunkDetailView(ObjectDetailView):
    model = ItspTrunk
    fields = [Column(_("Name"), "name"), Column(_("Enabled"), "enabled"), Column(_("SIP URI"), "dispatcher_uri"),
              Column(_("Authentication"), _itsp_auth), Column(_("Realm"), "realm"), Column(_("Proxy"), "proxy"),
              Column(_("Registration expiry (s)"), "expires"), Column(_("Caller ID"), "caller_id_presentation"),
              Column(_("Main number"), "caller_id_number"), Column(_("Used by routes"), _trunk_routes),
              Column(_("Description"), "description")]

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
        parts.append(gettext("strip %(digits)s") % {"digits": route.strip})
    if route.prepend:
        parts.append(gettext("prepend %(prefix)s") % {"prefix": route.prepend})
    return ", ".join(parts) or "—"


class OutboundRouteListView(TabsMixin, ObjectListView):
    model = OutboundRoute
    filterset_class = OutboundRouteFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True), Column(_("Kind"), "kind", order_by=True),
               Column(_("Pattern"), "pattern", order_by=True), Column(_("Rewrite"), _rewrite),
               Column(_("Trunks (in order)"), _route_trunks), Column(_("Priority"), "priority", order_by=True),
               Column(_("Enabled"), "enabled", order_by=True)]

    def get_queryset(self):
        return OutboundRoute.objects.prefetch_related(
            Prefetch("route_trunks", queryset=RouteTrunk.objects.select_related("trunk").order_by("position")))


class OutboundRouteDetailView(ObjectDetailView):
    model = OutboundRoute
    fields = [Column(_("Name"), "name"), Column(_("Kind"), "kind"), Column(_("Enabled"), "enabled"),
              Column(_("Pattern"), "pattern"), Column(_("Priority"), "priority"), Column(_("Rewrite"), _rewrite),
              Column(_("Trunks (in order)"), _route_trunks),
              Column("Kamailio", lambda r: gettext("dialplan dpid 2, dispatcher set %(setid)s (algorithm 8: by "
                                                   "priority)") % {"setid": r.setid}),
              Column(_("Description"), "description")]

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
