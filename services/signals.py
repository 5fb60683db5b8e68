"""Keep services' projections right when something they are built from changes in another app.

Sites and users cannot call services (dependencies point the other way), so services listens:
an Asterisk node's address is in dispatcher rows and ``dst=`` attrs, a site's slug and ranges are
in the ``extensions`` contexts and the home-site rules (dpid 4), a user's extension is where a DDI
rings (dpid 3), the sites' SIP domains are in dpid 5. Every enabled node, Asterisk or Kamailio, is a
trusted peer (``address`` group 1) unless an ITSP trunk claims its address: Kamailio nodes and ITSP
trunks re-project that alone. The receivers run inside the other app's transaction, so the projection
commits or rolls back with the change. Bulk writes (the CSV import) send no signals: ``check_estate`` reports
what they leave behind and ``--repair`` fixes it.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from sites.models import AsteriskNode, ExtensionRange, KamailioNode, Site
from trunks.models import ItspTrunk


def _reproject(reason: str, *, peers_only: bool = False) -> None:
    from .actions import project

    project(reason, peers_only=peers_only)


@receiver(post_save, sender=Site, dispatch_uid="services-site-saved")
@receiver(post_delete, sender=Site, dispatch_uid="services-site-deleted")
@receiver(post_save, sender=ExtensionRange, dispatch_uid="services-range-saved")
@receiver(post_delete, sender=ExtensionRange, dispatch_uid="services-range-deleted")
@receiver(post_save, sender=AsteriskNode, dispatch_uid="services-node-saved")
@receiver(post_delete, sender=AsteriskNode, dispatch_uid="services-node-deleted")
def estate_changed(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    if sender is AsteriskNode and kwargs.get("signal") is post_save:
        _check_node_fits_kamailio(instance)
    _reproject(f"{sender._meta.verbose_name} {instance} changed")


@receiver(post_save, sender=KamailioNode, dispatch_uid="services-kamailio-saved")
@receiver(post_delete, sender=KamailioNode, dispatch_uid="services-kamailio-deleted")
@receiver(post_save, sender=ItspTrunk, dispatch_uid="services-itsp-saved")
@receiver(post_delete, sender=ItspTrunk, dispatch_uid="services-itsp-deleted")
def peers_changed(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    _reproject(f"{sender._meta.verbose_name} {instance} changed", peers_only=True)


def _check_node_fits_kamailio(node: AsteriskNode) -> None:
    """A node's SIP URI is written into Kamailio's dispatcher rows and ``dst=`` attrs: refuse a host that
    would no longer fit them (the node's action rolls back and the form/API names the reason)."""
    from .models import DIALPLAN_ATTRS_MAX, DISPATCHER_URI_MAX, HOME_RULE_URI_MAX, node_route_attrs

    if len(node.sip_uri) > HOME_RULE_URI_MAX:  # (any node may be its site's home node: dpid 4 outputs its URI)
        raise ValidationError({"host": f"Kamailio's dialplan table takes a SIP URI of at most {HOME_RULE_URI_MAX} "
                                       "characters (the site's home rule sends calls to this node)."})
    if len(node.sip_uri) > DISPATCHER_URI_MAX and node.dispatcher_destinations.exists():
        raise ValidationError({"host": f"This node is in a dispatcher set, and Kamailio's dispatcher table takes a "
                                       f"SIP URI of at most {DISPATCHER_URI_MAX} characters."})
    for kind in node.service_codes.values_list("kind", flat=True).distinct():
        if len(node_route_attrs(kind, node)) > DIALPLAN_ATTRS_MAX:
            raise ValidationError({"host": f"A {kind} service code is served by this node, and Kamailio's dialplan "
                                           f"rule would need more than {DIALPLAN_ATTRS_MAX} characters for it; "
                                           "use a shorter host name or serve the code through a dispatcher set."})


def user_saved(sender, instance, raw: bool = False, update_fields=None, **kwargs) -> None:
    """A DDI rings the user's extension: re-project only when such a DDI exists (one cheap query)."""
    if raw or (update_fields is not None and "extension" not in update_fields):
        return
    from .models import InboundNumber

    if InboundNumber.objects.filter(user_id=instance.pk).exists():
        _reproject(f"user {instance} changed")


def connect_user_signals() -> None:
    from users.models import SipUser

    post_save.connect(user_saved, sender=SipUser, dispatch_uid="services-user-saved")
