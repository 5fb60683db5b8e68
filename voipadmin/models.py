"""Shared models: the audit log of every change made to the estate."""
from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _, pgettext_lazy


class ChangeLogEntry(models.Model):
    """One create, update or delete, with field-level before/after (secrets masked)."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Updated")
        DELETE = "delete", _("Deleted")
        OTHER = "other", pgettext_lazy("audit action", "Other")

    time = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"),
                             null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    actor = models.CharField(_("actor"),
                             max_length=150, help_text="User name, API token or command that made the change.")
    source = models.CharField(_("source"), max_length=16, default="system")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, verbose_name=_("content type"),
                                     on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(_("object ID"), max_length=64, db_index=True)
    object_repr = models.CharField(_("object repr"), max_length=200)
    message = models.CharField(_("message"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True, help_text="{field: [before, after]}")

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-time"])]
        verbose_name = _("change log entry")
        verbose_name_plural = _("change log")

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_repr} by {self.actor}"


class ApiToken(models.Model):
    """A named key a billing or integration system sends as ``Authorization: Token <key>``.

    Only a SHA-256 hash of the key is stored (the key is shown once, when made), so a leaked
    database dump cannot be replayed against the API. ``prefix`` lets people tell tokens apart.
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read only (billing)")
        WRITE = "write", _("Read and write")

    name = models.CharField(_("name"), max_length=100, unique=True)
    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(_("prefix"), max_length=12, db_index=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    allowed_networks = models.JSONField(_("allowed networks"), default=list, blank=True,
                                        help_text="CIDR networks the token may be used from; empty = anywhere.")
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from (IP)"), null=True, blank=True)
    # A token made by a site-limited account inherits its sites; an estate administrator may give one.
    site_limited = models.BooleanField(_("site limited"),
                                       default=False, help_text="Limited to the sites below, like an account.")
    sites = models.ManyToManyField("sites.Site", verbose_name=_("sites"), blank=True, related_name="+")

    audit_exclude_fields = ("key_hash", "last_used_at", "last_used_ip")

    class Meta:
        ordering = ["name"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        # Only "manage": the Billing role holds every view_* permission and must not list tokens.
        default_permissions = ()
        permissions = [("manage_apitoken", "Can create, list and revoke API tokens")]

    def __str__(self) -> str:
        return self.name

    def site_scope(self) -> frozenset[int] | None:
        """The site ids this token is limited to (voipadmin.scope), or None for the whole estate."""
        if not self.site_limited:
            return None
        cached = getattr(self, "_site_ids", None)
        if cached is None:
            cached = self._site_ids = frozenset(self.sites.values_list("pk", flat=True))
        return cached

    @staticmethod
    def scoped_by(site_ids, action):
        """A site-limited account sees the tokens limited to its own sites, and nothing wider."""
        from django.db.models import Q

        return Q(site_limited=True) & ~Q(sites__in=_sites_outside(site_ids))


def _sites_outside(site_ids):
    from django.apps import apps

    return apps.get_model("sites", "Site").objects.exclude(pk__in=site_ids).values("pk")

