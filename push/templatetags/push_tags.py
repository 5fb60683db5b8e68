"""``{% node_push_jobs node %}``: the latest push jobs of a node, for the node's detail page.

An inclusion tag (not a view context variable) so the sites app's template can show them
without the sites app importing push (dependencies point from push to sites, never back).
"""
from __future__ import annotations

from django import template

from sites.models import AsteriskNode, KamailioNode

from ..models import PushJob

register = template.Library()


@register.inclusion_tag("push/node_jobs.html", takes_context=True)
def node_push_jobs(context, node, limit: int = 10):
    user = context.get("user")
    if isinstance(node, KamailioNode):
        qs, kind_filter = PushJob.objects.filter(kamailio_node=node), {"kamailio_node": node.pk}
    elif isinstance(node, AsteriskNode):
        qs, kind_filter = PushJob.objects.filter(asterisk_node=node), {"asterisk_node": node.pk}
    else:
        qs, kind_filter = PushJob.objects.none(), {}
    allowed = bool(user and user.has_perm("push.view_pushjob"))
    return {"jobs": list(qs.order_by("-id")[:limit]) if allowed else [], "allowed": allowed,
            "filter": kind_filter, "node": node}
