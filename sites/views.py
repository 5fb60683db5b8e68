from django.db.models import Count, Prefetch

from voipadmin.fields import secret_state
from voipadmin.views import Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectListView

from . import actions
from .filtersets import AsteriskNodeFilterSet, KamailioNodeFilterSet, SiteFilterSet
from .forms import AsteriskNodeForm, KamailioNodeForm, SiteForm
from .models import AsteriskNode, ExtensionRange, KamailioNode, Site


def _ranges(site):
    return ", ".join(str(r) for r in site.extension_ranges.all())


class SiteListView(ObjectListView):
    model = Site
    filterset_class = SiteFilterSet
    columns = [Column("Name", "name", link=True, order_by=True), Column("Slug", "slug", order_by=True),
               Column("Kind", "kind", order_by=True), Column("SIP domain", "sip_domain", order_by=True),
               Column("Extensions", _ranges), Column("Asterisk nodes", "node_count", order_by=True),
               Column("Time zone", "time_zone", order_by=True)]

    def get_queryset(self):
        return (Site.objects.annotate(node_count=Count("asterisk_nodes")).order_by("kind", "name")
                .prefetch_related(Prefetch("extension_ranges", queryset=ExtensionRange.objects.order_by("start"))))


class SiteDetailView(ObjectDetailView):
    model = Site
    template_name = "sites/site_detail.html"
    fields = [Column("Name", "name"), Column("Slug", "slug"), Column("Kind", "kind"),
              Column("SIP domain", "sip_domain"), Column("Asterisk context", "asterisk_context"),
              Column("Extension ranges", _ranges), Column("Address", "address"), Column("Time zone", "time_zone"),
              Column("Notes", "notes")]

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
    columns = [Column("Name", "name", link=True, order_by=True), Column("Site", "site", order_by="site__name"),
               Column("Host", "host", order_by=True), Column("SIP port", "sip_port", order_by=True),
               Column("Roles", "roles"), Column("AMI", lambda n: f"{n.effective_ami_host}:{n.ami_port}"),
               Column("Enabled", "enabled", order_by=True)]

    def get_queryset(self):
        return AsteriskNode.objects.select_related("site")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["kamailio_nodes"] = KamailioNode.objects.all()
        return ctx


class AsteriskNodeDetailView(ObjectDetailView):
    model = AsteriskNode
    template_name = "sites/node_detail.html"
    fields = [Column("Name", "name"), Column("Site", "site"), Column("Enabled", "enabled"),
              Column("SIP URI", "sip_uri"), Column("Roles", "roles"),
              Column("AMI", lambda n: f"{n.effective_ami_host}:{n.ami_port} as {n.ami_username or '—'}"),
              Column("AMI secret", lambda n: secret_state(n.ami_secret)),
              Column("ARI", lambda n: f"{n.ari_url or '—'} as {n.ari_username or '—'}"),
              Column("ARI password", lambda n: secret_state(n.ari_password)),
              Column("Notes", "notes")]

    def get_queryset(self):
        return AsteriskNode.objects.select_related("site")


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
    columns = [Column("Name", "name", link=True, order_by=True), Column("SIP address", "sip_address", order_by=True),
               Column("JSON-RPC", "jsonrpc_url"), Column("Enabled", "enabled", order_by=True)]


class KamailioNodeDetailView(ObjectDetailView):
    model = KamailioNode
    template_name = "sites/node_detail.html"
    fields = [Column("Name", "name"), Column("Enabled", "enabled"), Column("SIP address", "sip_address"),
              Column("JSON-RPC URL", "jsonrpc_url"), Column("JSON-RPC user", "jsonrpc_username"),
              Column("JSON-RPC password", lambda n: secret_state(n.jsonrpc_password)),
              Column("Notes", "notes")]


class KamailioNodeEditView(ObjectEditView):
    model = KamailioNode
    form_class = KamailioNodeForm
    create_action = staticmethod(actions.create_kamailio_node)
    update_action = staticmethod(actions.update_kamailio_node)


class KamailioNodeDeleteView(ObjectDeleteView):
    model = KamailioNode
    delete_action = staticmethod(actions.delete_kamailio_node)
