"""``{% node_push_jobs node %}``: the latest push jobs of a node, for the node's detail page, with a link to
the node's push queue (pause, resume, cancel, push everything) and whether it is paused.

An inclusion tag (not a view context variable) so the sites app's template can show them
without the sites app importing push (dependencies point from push to sites, never back).
"""
from __future__ import annotations

from django import template

from sites.models import AsteriskNode, KamailioNode

from ..models import NodeKind, PushJob, PushNodeState

register = template.Library()


@register.inclusion_tag("push/node_jobs.html", takes_context=True)
def node_push_jobs(context, node, limit: int = 10):
    user = context.get("user")
    if isinstance(node, KamailioNode):
        qs, kind_filter = PushJob.objects.filter(kamailio_node=node), {"kamailio_node": node.pk}
        kind = NodeKind.KAMAILIO.value
    elif isinstance(node, AsteriskNode):
        qs, kind_filter = PushJob.objects.filter(asterisk_node=node), {"asterisk_node": node.pk}
        kind = NodeKind.ASTERISK.value
    else:
        qs, kind_filter, kind = PushJob.objects.none(), {}, ""
    allowed = bool(user and user.has_perm("push.view_pushjob")) and bool(kind)
    paused = allowed and PushNodeState.objects.filter(node_kind=kind, node_id=node.pk, paused=True).exists()
    return {"jobs": list(qs.order_by("-id")[:limit]) if allowed else [], "allowed": allowed,
            "filter": kind_filter, "node": node, "kind": kind, "paused": paused}
