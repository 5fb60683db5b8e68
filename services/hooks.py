"""Keep services' projections right when something they are built from changes in an app below.

Sites, trunks and users cannot call services (dependencies point the other way), so ``ServicesConfig.ready``
registers these on their actions' hooks, and the actions call them inside their own transaction — the
projection commits or rolls back with the change, bulk writes included (the CSV import calls
``users.actions.users_changed`` like a single edit does). What depends on what:

* an Asterisk node's address is in dispatcher rows and ``dst=`` attrs; a site's slug and ranges are in the
  ``extensions`` contexts and the home-site rules (dpid 4); the sites' SIP domains are in dpid 5;
* every enabled node, Asterisk or Kamailio, is a trusted peer (``address`` group 1) unless an ITSP trunk claims
  its address: Kamailio nodes and ITSP trunks re-project that alone;
* a user's extension is where a DDI rings (dpid 3).
"""
from __future__ import annotations

from typing import Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, override

from push import api as push
from sites.models import AsteriskNode, KamailioNode
from trunks.models import ItspTrunk, Trunk
from voipadmin import crud

from .actions import project

_VERB = {"create": "created", "update": "changed", "delete": "deleted"}


def estate_changed(write: crud.Write) -> None:
    """A site (with its ranges), a node or an ITSP trunk was written: re-project (peers only where that is all
    it can change)."""
    obj = write.obj
    with override(None):  # (a push job's reason is a log line: English, whoever's language made the change)
        reason = f"{obj._meta.verbose_name} {obj} {_VERB[write.action]}"
    project(reason, peers_only=isinstance(obj, (KamailioNode, ItspTrunk, Trunk)))
    if isinstance(obj, KamailioNode) and _newly_serving(write):
        reload_every_table(obj, reason=reason)


def _newly_serving(write: crud.Write) -> bool:
    """A Kamailio node that starts being one the estate pushes to (created enabled, enabled, or moved)."""
    if write.action == "delete" or not write.obj.enabled:
        return False
    return write.action == "create" or bool(write.changed & {"enabled", "jsonrpc_url"})


def reload_every_table(node: KamailioNode, *, reason: str) -> None:
    """A node the portal has not been pushing to may hold tables loaded before any number of changes (it
    was started before it was added here): ask it to re-read all of them, not only what this change
    projected (an unchanged projection asks for nothing)."""
    for command in push.COMMANDS[push.KAMAILIO]:
        push.request(push.KAMAILIO, command, node_ids=[node.pk], reason=f"{reason}: re-read every table")


def users_changed(user_ids: Iterable[int], fields: set[str], *, reason: str) -> None:
    """A DDI rings the user's extension: re-project only when one of them has such a DDI (one cheap query)."""
    from .models import InboundNumber

    if "extension" in fields and InboundNumber.objects.filter(user_id__in=list(user_ids)).exists():
        project(reason)


def asterisk_node_fits(node: AsteriskNode) -> None:
    """A node's SIP URI is written into Kamailio's dispatcher rows and ``dst=`` attrs: refuse a host that
    would no longer fit them (the form/API names the reason; nothing is written)."""
    from .models import DIALPLAN_ATTRS_MAX, DISPATCHER_URI_MAX, HOME_RULE_URI_MAX, node_route_attrs

    if len(node.sip_uri) > HOME_RULE_URI_MAX:  # (any node may be its site's home node: dpid 4 outputs its URI)
        raise ValidationError({"host": gettext("Kamailio's dialplan table takes a SIP URI of at most %(max)s "
                                               "characters (the site's home rule sends calls to this node).")
                               % {"max": HOME_RULE_URI_MAX}})
    if not node.pk:
        return  # a new node is in no set and serves no code yet
    if len(node.sip_uri) > DISPATCHER_URI_MAX and node.dispatcher_destinations.exists():
        raise ValidationError({"host": gettext("This node is in a dispatcher set, and Kamailio's dispatcher table "
                                               "takes a SIP URI of at most %(max)s characters.")
                               % {"max": DISPATCHER_URI_MAX}})
    for kind in node.service_codes.values_list("kind", flat=True).distinct():
        if len(node_route_attrs(kind, node)) > DIALPLAN_ATTRS_MAX:
            raise ValidationError({"host": gettext(
                "A %(kind)s service code is served by this node, and Kamailio's dialplan rule would need more than "
                "%(max)s characters for it; use a shorter host name or serve the code through a dispatcher set.")
                % {"kind": kind, "max": DIALPLAN_ATTRS_MAX}})
