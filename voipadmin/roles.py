"""The portal's roles as Django groups, and the permissions each one holds.

Groups are created by a data migration; their permissions are re-synced after
every migrate, because later apps add models (and so permissions) the first
migration could not know about.
"""
from __future__ import annotations

ADMINISTRATOR = "Administrator"
HELPDESK = "Helpdesk"
BILLING = "Billing"
ROLES = (ADMINISTRATOR, HELPDESK, BILLING)

ESTATE_APPS = ("sites", "push", "users", "trunks", "services", "media", "cdrs", "live", "voipadmin")

# Helpdesk: find a user and reset its voicemail PIN — nothing else.
HELPDESK_PERMISSIONS = {("users", "view_sipuser"), ("users", "reset_voicemail_pin")}
# The roles that work with the API itself: its index, its schema and its docs (tokens always may).
API_ROLES = (ADMINISTRATOR, BILLING)


def has_api_role(user) -> bool:
    """A signed-in account with a role that uses the API (or a superuser); the helpdesk and role-less accounts
    have no business browsing the whole API's description, even though each endpoint checks its own permission."""
    cached = getattr(user, "_has_api_role", None)
    if cached is None:
        cached = bool(user.is_superuser or user.groups.filter(name__in=API_ROLES).exists())
        try:
            user._has_api_role = cached  # asked by the permission and the index in one request
        except AttributeError:
            pass
    return cached


def sync_role_permissions(Group, Permission) -> None:
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    estate = Permission.objects.filter(content_type__app_label__in=ESTATE_APPS)
    groups[ADMINISTRATOR].permissions.set(
        Permission.objects.filter(content_type__app_label__in=(*ESTATE_APPS, "auth")))
    groups[HELPDESK].permissions.set(
        [p for p in estate.select_related("content_type")
         if (p.content_type.app_label, p.codename) in HELPDESK_PERMISSIONS])
    groups[BILLING].permissions.set(estate.filter(codename__startswith="view_"))


def sync_after_migrate(sender, **kwargs) -> None:
    """Runs once per migrate, after the last app's permissions exist."""
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    from django.db import connections

    if sender.label != [a for a in apps.get_app_configs() if a.models_module][-1].label:
        return
    tables = connections[kwargs.get("using", "default")].introspection.table_names()
    if "auth_group" not in tables or "auth_permission" not in tables:
        return  # a partial `migrate <app>` on a fresh database: roles come with the full migrate
    sync_role_permissions(Group, Permission)
