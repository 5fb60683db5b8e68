from django.contrib import messages
from django.db.models import Count, Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy as _
from django.views.generic import TemplateView

from voipadmin import scope
from voipadmin.fields import secret_state
from voipadmin.views import Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectListView, PortalView

from . import actions
from .filtersets import AsteriskNodeFilterSet, KamailioNodeFilterSet, SiteFilterSet
from .forms import AsteriskNodeForm, KamailioNodeForm, SiteForm
from .models import AsteriskNode, ExtensionRange, KamailioNode, Site


def _ranges(site):
    return ", ".join(str(r) for r in site.extension_ranges.all())


def _as(address: str, username: str) -> str:
    """"http://pbx:8088/ari as voipadmin": where a node is reached and with which account."""
    return gettext("%(address)s as %(username)s") % {"address": address or "—", "username": username or "—"}


class SiteListView(ObjectListView):
    model = Site
    filterset_class = SiteFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True), Column(_("Slug"), "slug", order_by=True),
               Column(_("Kind"), "kind", order_by=True), Column(_("SIP domain"), "sip_domain", order_by=True),
               Column(_("Extensions"), _ranges), Column(_("Asterisk nodes"), "node_count", order_by=True),
               Column(_("Time zone"), "time_zone", order_by=True)]

    def get_queryset(self):
        return (Site.objects.annotate(node_count=Count("asterisk_nodes")).order_by("kind", "name")
                .prefetch_related(Prefetch("extension_ranges", queryset=ExtensionRange.objects.order_by("start"))))


class SiteDetailView(ObjectDetailView):
    model = Site
    template_name = "sites/site_detail.html"
    fields = [Column(_("Name"), "name"), Column(_("Slug"), "slug"), Column(_("Kind"), "kind"),
              Column(_("SIP domain"), "sip_domain"), Column(_("Asterisk context"), "asterisk_context"),
              Column(_("Extension ranges"), _ranges), Column(_("Address"), "address"),
              Column(_("Time zone"), "time_zone"), Column(_("Notes"), "notes")]

    def get_queryset(self):
        return Site.objects.prefetch_related("extension_ranges", "asterisk_nodes")


class SiteEditView(ObjectEditView):
    model = Site
    form_class = SiteForm
    create_action = staticmethod(actions.create_site)
    update_action = staticmethod(actions.update_site)


class SiteDeleteView(ObjectDeleteView):
    model = Site
    delete_action = staticmethod(actions.delete_site)


class AsteriskNodeListView(ObjectListView):
    model = AsteriskNode
    template_name = "sites/node_list.html"
    filterset_class = AsteriskNodeFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True), Column(_("Site"), "site", order_by="site__name"),
               Column(_("Host"), "host", order_by=True), Column(_("SIP port"), "sip_port", order_by=True),
               Column(_("Roles"), "roles"), Column("AMI", lambda n: f"{n.effective_ami_host}:{n.ami_port}"),
               Column(_("Enabled"), "enabled", order_by=True),
               Column(_("Calls"), lambda n: n.drain_label(n.calls) or _("in service"))]

    def get_queryset(self):
        # (the calls the poller sees on each node, one query with the list: "draining (N calls)"; an aggregate
        # drops Meta.ordering, so it is asked for again: pages must not shuffle)
        return AsteriskNode.objects.select_related("site").annotate(
            calls=Count("live_calls__linkedid", distinct=True)).order_by(*AsteriskNode._meta.ordering, "pk")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["kamailio_nodes"] = KamailioNode.objects.all()
        return ctx


class AsteriskNodeDetailView(ObjectDetailView):
    model = AsteriskNode
    template_name = "sites/node_detail.html"
    fields = [Column(_("Name"), "name"), Column(_("Site"), "site"), Column(_("Enabled"), "enabled"),
              Column(_("SIP URI"), "sip_uri"), Column(_("Roles"), "roles"),
              Column("AMI", lambda n: _as(f"{n.effective_ami_host}:{n.ami_port}", n.ami_username)),
              Column(_("AMI secret"), lambda n: secret_state(n.ami_secret)),
              Column("ARI", lambda n: _as(n.ari_url, n.ari_username)),
              Column(_("ARI password"), lambda n: secret_state(n.ari_password)),
              Column(_("Calls"), lambda n: n.drain_label(n.calls) or _("in service")),
              Column(_("Notes"), "notes")]

    def get_queryset(self):
        return AsteriskNode.objects.select_related("site").annotate(
            calls=Count("live_calls__linkedid", distinct=True))

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["drain_url"] = reverse("sites:asterisknode_drain", args=[self.object.pk])
        return ctx


class AsteriskNodeDrainView(PortalView, TemplateView):
    """Drain a node (or return it to service): a confirmation page (GET) and the action (POST). The form posts
    the state it asks for (``draining=1|0``), so a double submit or a stale page never flips it back."""

    model = AsteriskNode
    perm_action = "change"
    template_name = "sites/node_drain.html"

    def node(self) -> AsteriskNode:
        return get_object_or_404(self.restrict(AsteriskNode.objects.select_related("site"), scope.CHANGE),
                                 pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["object"] = self.node()
        return ctx

    def post(self, request, *args, **kwargs):
        node = self.node()
        if request.POST.get("draining") == "1":
            actions.drain_node(node, actor=self.actor())
            messages.success(request, gettext("%(node)s is draining: it takes no new calls; the calls it carries "
                                              "finish.") % {"node": node})
        else:
            actions.return_node_to_service(node, actor=self.actor())
            messages.success(request, gettext("%(node)s is back in service.") % {"node": node})
        return HttpResponseRedirect(node.get_absolute_url())


class AsteriskNodeEditView(ObjectEditView):
    model = AsteriskNode
    form_class = AsteriskNodeForm
    create_action = staticmethod(actions.create_asterisk_node)
    update_action = staticmethod(actions.update_asterisk_node)


class AsteriskNodeDeleteView(ObjectDeleteView):
    model = AsteriskNode
    delete_action = staticmethod(actions.delete_asterisk_node)


class KamailioNodeListView(ObjectListView):
    model = KamailioNode
    filterset_class = KamailioNodeFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True),
               Column(_("SIP address"), "sip_address", order_by=True),
               Column("JSON-RPC", "jsonrpc_url"), Column(_("Enabled"), "enabled", order_by=True)]


class KamailioNodeDetailView(ObjectDetailView):
    model = KamailioNode
    template_name = "sites/node_detail.html"
    fields = [Column(_("Name"), "name"), Column(_("Enabled"), "enabled"), Column(_("SIP address"), "sip_address"),
              Column(_("JSON-RPC URL"), "jsonrpc_url"), Column(_("JSON-RPC user"), "jsonrpc_username"),
              Column(_("JSON-RPC password"), lambda n: secret_state(n.jsonrpc_password)),
              Column(_("Notes"), "notes")]


class KamailioNodeEditView(ObjectEditView):
    model = KamailioNode
    form_class = KamailioNodeForm
    create_action = staticmethod(actions.create_kamailio_node)
    update_action = staticmethod(actions.update_kamailio_node)


class KamailioNodeDeleteView(ObjectDeleteView):
    model = KamailioNode
    delete_action = staticmethod(actions.delete_kamailio_node)
