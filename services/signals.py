"""Keep services' projections right when something they are built from changes in another app.

Sites and users cannot call services (dependencies point the other way), so services listens:
an Asterisk node's address is in dispatcher rows and ``dst=`` attrs, a site's slug and ranges are
in the ``extensions`` contexts and the home-site rules (dpid 4), a user's extension is where a DDI
rings (dpid 3). The receivers run inside the other app's transaction, so the projection commits or
rolls back with the change. Bulk writes (the CSV import) send no signals: ``check_estate`` reports
what they leave behind and ``--repair`` fixes it.
"""
from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from sites.models import AsteriskNode, ExtensionRange, Site


def _reproject(reason: str) -> None:
    from .actions import project

    project(reason)


@receiver(post_save, sender=Site, dispatch_uid="services-site-saved")
@receiver(post_delete, sender=Site, dispatch_uid="services-site-deleted")
@receiver(post_save, sender=ExtensionRange, dispatch_uid="services-range-saved")
@receiver(post_delete, sender=ExtensionRange, dispatch_uid="services-range-deleted")
@receiver(post_save, sender=AsteriskNode, dispatch_uid="services-node-saved")
@receiver(post_delete, sender=AsteriskNode, dispatch_uid="services-node-deleted")
def estate_changed(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    _reproject(f"{sender._meta.verbose_name} {instance} changed")


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
