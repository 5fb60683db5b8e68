"""The portal's home page for administrators: the estate at a glance."""
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.db.models import Count
from django.views.generic import TemplateView

from sites.models import AsteriskNode, KamailioNode, Site


class DashboardView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    template_name = "dashboard.html"
    permission_required = "sites.view_site"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["sites"] = Site.objects.annotate(node_count=Count("asterisk_nodes")).order_by("kind", "name")
        ctx["asterisk_count"] = AsteriskNode.objects.count()
        ctx["kamailio_nodes"] = KamailioNode.objects.all()
        return ctx
