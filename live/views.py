"""Pages of the live estate: the dashboard (the portal's home), node live pages, calls and registrations.

Views only read (live.overview) or call live.actions; they never talk to a node themselves.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.generic import TemplateView, View

from sites.models import AsteriskNode, KamailioNode
from voipadmin.actors import Actor
from voipadmin.views import Column, ObjectListView

from . import actions, overview
from .filtersets import ActiveCallFilterSet, RegistrationFilterSet
from .models import ActiveCall, Bridge, DeviceState, Registration, TrunkState
from .state import extension_states


class LivePermissionMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Logged-in users without the permission get 403, anonymous ones the login page."""

    def handle_no_permission(self):
        if self.request.user.is_authenticated:
            self.raise_exception = True
        return super().handle_no_permission()


class DashboardView(LivePermissionMixin, TemplateView):
    """The portal's home page: the estate at a glance, refreshed in place by HTMX."""

    template_name = "live/dashboard.html"
    permission_required = "sites.view_site"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(overview.estate_overview())
        return ctx


class EstateFragmentView(DashboardView):
    """The dashboard's refreshable part (sites, totals, topology), fetched every few seconds."""

    template_name = "live/_estate.html"


class CallHistoryView(LivePermissionMixin, View):
    """Concurrent calls per site over the last 24 hours, for the dashboard chart."""

    permission_required = "sites.view_site"

    def get(self, request):
        return JsonResponse(overview.call_history())


class ExtensionStateBadgesView(LivePermissionMixin, TemplateView):
    """``GET ?ext=1001&ext=1002``: one badge per extension as HTMX out-of-band swaps.

    Lets the users list show live states without the users app importing this one:
    its cells hold ``<span id="ext-state-1001"></span>`` and one request per page
    (and every few seconds) fills them in.  Three queries whatever the page size.
    """

    template_name = "live/extension_state_badges.html"
    permission_required = "users.view_sipuser"
    MAX = 500

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        wanted = [e for e in self.request.GET.getlist("ext") if e.isdigit()][: self.MAX]
        states = extension_states(wanted)
        ctx["badges"] = [(e, states[e]) for e in dict.fromkeys(wanted)]
        return ctx


class DestinationStatesView(LivePermissionMixin, TemplateView):
    """Dispatcher destinations as the Kamailios hold them; ``?setid=N``: one set's, for the set's page
    (services pulls it with HTMX, so it need not import this app). Three queries."""

    template_name = "live/_destinations.html"
    permission_required = "services.view_dispatcherset"

    def get(self, request, *args, **kwargs):
        setid = request.GET.get("setid")
        if setid is None:
            return self.render_to_response({"destinations": overview.destination_states(), "show_set": True})
        if not (setid.isascii() and setid.isdigit()) or len(setid) > 9:
            return HttpResponseBadRequest("setid must be a dispatcher set id, a number such as ?setid=1",
                                          content_type="text/plain")
        return self.render_to_response({"destinations": overview.destination_states(setid=int(setid)),
                                        "show_set": False})


NODE_MODELS = {"asterisk": AsteriskNode, "kamailio": KamailioNode}


class NodeLiveView(LivePermissionMixin, TemplateView):
    """What the poller last saw on one node, with the admin-only "test connection"."""

    template_name = "live/node.html"
    kind = "asterisk"

    def get_permission_required(self):
        model = NODE_MODELS[self.kind]
        return [f"sites.view_{model._meta.model_name}"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        model = NODE_MODELS[self.kind]
        node = get_object_or_404(model.objects.select_related("live_state"), pk=self.kwargs["pk"])
        live = getattr(node, "live_state", None)
        ctx.update(node=node, kind=self.kind, live=live, stale_after=overview.stale_after(),
                   age=live.age_seconds() if live else None,
                   can_test=self.request.user.has_perm(f"sites.change_{model._meta.model_name}"),
                   fragment_url=reverse(f"live:{self.kind}_node_fragment", args=[node.pk]),
                   test_url=reverse(f"live:{self.kind}_node_test", args=[node.pk]))
        if self.kind == "asterisk":
            ctx["calls"] = ActiveCall.objects.filter(node=node).order_by("linkedid", "channel")[:200]
            ctx["registrations"] = Registration.objects.filter(asterisk_node=node)[:200]
            ctx["device_states"] = DeviceState.objects.filter(node=node)[:500]
            ctx["bridges"] = Bridge.objects.filter(node=node)[:200]
            ctx["trunks"] = TrunkState.objects.filter(asterisk_node=node)
            ctx["destinations"] = overview.destination_states(asterisk_node=node)
        else:
            ctx["registrations"] = Registration.objects.filter(kamailio_node=node)[:200]
            ctx["trunks"] = TrunkState.objects.filter(kamailio_node=node)
            ctx["destinations"] = overview.destination_states(kamailio_node=node)
        return ctx


class NodeFragmentView(NodeLiveView):
    template_name = "live/_node.html"


# One class per kind, so each page names its model (URL discovery in the persona tests uses it).
class AsteriskNodeLiveView(NodeLiveView):
    model, kind = AsteriskNode, "asterisk"


class KamailioNodeLiveView(NodeLiveView):
    model, kind = KamailioNode, "kamailio"


class AsteriskNodeFragmentView(NodeFragmentView):
    model, kind = AsteriskNode, "asterisk"


class KamailioNodeFragmentView(NodeFragmentView):
    model, kind = KamailioNode, "kamailio"


class NodeTestView(LivePermissionMixin, TemplateView):
    """POST: poll this node once now, with the short per-node timeout, and show what it said."""

    template_name = "live/_test_result.html"
    kind = "asterisk"
    http_method_names = ["post"]

    def get_permission_required(self):
        return [f"sites.change_{NODE_MODELS[self.kind]._meta.model_name}"]

    def post(self, request, pk: int):
        node = get_object_or_404(NODE_MODELS[self.kind], pk=pk)
        result = actions.test_node_connection(node, actor=Actor.from_request(request))
        if request.headers.get("HX-Request"):
            response = self.render_to_response({"result": result, "node": node})
            response["HX-Trigger"] = "live-refresh"  # the node panel reloads with what was just recorded
            return response
        text = f"{node}: {result.state}" + (f" — {result.reason}" if result.reason else "")
        (messages.success if result.state == "up" else messages.warning)(request, f"Test connection: {text}")
        return HttpResponseRedirect(reverse(f"live:{self.kind}_node", args=[pk]))


def _age(obj) -> str:
    from .templatetags.live import age

    return age(obj.seen_at)


class ActiveCallListView(ObjectListView):
    model = ActiveCall
    filterset_class = ActiveCallFilterSet
    template_name = "live/list.html"
    columns = [Column("Channel", "channel"), Column("Site", "site"), Column("Node", "node"),
               Column("Caller", lambda c: f"{c.caller} {c.caller_name}".strip()), Column("Callee", "callee"),
               Column("State", "state"), Column("Duration", lambda c: _duration(c.duration_seconds)),
               Column("Trunk", "trunk"), Column("Seen", _age)]

    def get_queryset(self):
        return ActiveCall.objects.select_related("site", "node").order_by("site__name", "linkedid", "channel")


class RegistrationListView(ObjectListView):
    model = Registration
    filterset_class = RegistrationFilterSet
    template_name = "live/list.html"
    columns = [Column("User", "user"), Column("Contact", "contact"), Column("User agent", "user_agent"),
               Column("Source", "source"), Column("NAT", "nat"), Column("Expires", "expires"),
               Column("Registered with", lambda r: r.kamailio_node or r.asterisk_node), Column("Seen", _age)]

    def get_queryset(self):
        return Registration.objects.select_related("kamailio_node", "asterisk_node")


def _duration(seconds: int) -> str:
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
