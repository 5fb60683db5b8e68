"""What trunks does when sites change a node (registered on ``sites.actions``' hooks by ``TrunksConfig.ready``).

An E1 trunk's dispatcher destination is its Asterisk node's address: a node that carries E1 lines must keep
an address that fits Kamailio's dispatcher table, and a changed address re-projects the routes' sets. Both run
inside the sites action's transaction (sites cannot import trunks).
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from sites.models import AsteriskNode
from voipadmin import crud

from . import notifier, projection
from .models import DISPATCHER_URI_MAX


def e1_node_fits(node: AsteriskNode) -> None:
    if node.pk and len(node.sip_uri) > DISPATCHER_URI_MAX and node.e1_trunks.exists():
        raise ValidationError({"host": gettext("This node carries E1 lines that routes send calls to, and "
                                               "Kamailio's dispatcher table takes a SIP URI of at most %(max)s "
                                               "characters.") % {"max": DISPATCHER_URI_MAX}})


def node_changed(write: crud.Write) -> None:
    node = write.obj
    if isinstance(node, AsteriskNode) and write.action != "delete" and node.e1_trunks.exists():
        notifier.changed({"dispatcher": projection.sync_route_dispatcher()},
                         reason=f"Asterisk node {node} changed")
