"""An E1 trunk's dispatcher destination is its Asterisk node's address: follow node changes.

Sites cannot call trunks (dependencies point the other way), so trunks listens; the receiver runs
inside the sites action's transaction.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models.signals import post_save
from django.dispatch import receiver

from sites.models import AsteriskNode


@receiver(post_save, sender=AsteriskNode, dispatch_uid="trunks-node-saved")
def node_saved(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    from . import notifier, projection
    from .models import DISPATCHER_URI_MAX

    if instance.e1_trunks.exists():
        if len(instance.sip_uri) > DISPATCHER_URI_MAX:  # (the node's action rolls back and shows this)
            raise ValidationError({"host": f"This node carries E1 lines that routes send calls to, and Kamailio's "
                                           f"dispatcher table takes a SIP URI of at most {DISPATCHER_URI_MAX} "
                                           "characters."})
        notifier.changed({"dispatcher": projection.sync_route_dispatcher()},
                         reason=f"Asterisk node {instance} changed")
