"""Shared models: the audit log of every change made to the estate."""
from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


class ChangeLogEntry(models.Model):
    """One create, update or delete, with field-level before/after (secrets masked)."""

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"
        OTHER = "other", "Other"

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    actor = models.CharField(max_length=150, help_text="User name, API token or command that made the change.")
    source = models.CharField(max_length=16, default="system")
    action = models.CharField(max_length=16, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField("object ID", max_length=64, db_index=True)
    object_repr = models.CharField(max_length=200)
    message = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-time"])]
        verbose_name = "change log entry"
        verbose_name_plural = "change log"

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_repr} by {self.actor}"


class ApiToken(models.Model):
    """A named key a billing or integration system sends as ``Authorization: Token <key>``.

    Only a SHA-256 hash of the key is stored (the key is shown once, when made), so a leaked
    database dump cannot be replayed against the API. ``prefix`` lets people tell tokens apart.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read only (billing)"
        WRITE = "write", "Read and write"

    name = models.CharField(max_length=100, unique=True)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(max_length=12, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    allowed_networks = models.JSONField(default=list, blank=True,
                                        help_text="CIDR networks the token may be used from; empty = anywhere.")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField("last used from (IP)", null=True, blank=True)

    audit_exclude_fields = ("key_hash", "last_used_at", "last_used_ip")

    class Meta:
        ordering = ["name"]
        verbose_name = "API token"
        # Only "manage": the Billing role holds every view_* permission and must not list tokens.
        default_permissions = ()
        permissions = [("manage_apitoken", "Can create, list and revoke API tokens")]

    def __str__(self) -> str:
        return self.name
