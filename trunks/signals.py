"""An E1 trunk's dispatcher destination is its Asterisk node's address: follow node changes.

Sites cannot call trunks (dependencies point the other way), so trunks listens; the receiver runs
inside the sites action's transaction.
"""
from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from sites.models import AsteriskNode


@receiver(post_save, sender=AsteriskNode, dispatch_uid="trunks-node-saved")
def node_saved(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    from . import notifier, projection

    if instance.e1_trunks.exists():
        notifier.changed({"dispatcher": projection.sync_route_dispatcher()},
                         reason=f"Asterisk node {instance} changed")
