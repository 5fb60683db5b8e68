"""Django's model backend, plus the two things site-limited accounts need.

* The account's profile is loaded with the account (one join, no extra query per request), so knowing that an
  account is estate-wide — the common case — costs nothing.
* A site-limited account keeps only the permissions that can apply to its sites: any permission on a model that
  belongs to a site, and ``view`` on the estate's shared objects. Everything else (changing Kamailio nodes,
  dispatcher sets or service codes, the audit log, portal accounts) stays with estate administrators, whatever
  the role's group holds — so the menus, buttons and permission checks that already exist follow the limit.
"""
from __future__ import annotations

from functools import lru_cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from voipadmin.scope import ESTATE_WIDE


@lru_cache(maxsize=None)
def _model(app_label: str, codename: str):
    """The model a permission is about (Django's naming: ``<action>_<model>``, or a custom codename)."""
    from django.contrib.auth.models import Permission

    perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename) \
        .select_related("content_type").first()
    return perm.content_type.model_class() if perm else None


def applies_to_sites(perm: str) -> bool:
    """Whether a site-limited account may hold ``perm`` ("app_label.codename")."""
    app_label, _, codename = perm.partition(".")
    model = _model(app_label, codename)
    rule = getattr(model, "scoped_by", None) if model is not None else None
    if rule is None:
        return False
    if rule == ESTATE_WIDE:
        return codename.startswith("view_")
    allowed = getattr(model, "site_limited_actions", None)  # e.g. a delegation changes its site, never adds one
    if allowed is not None:
        verb = codename.split("_", 1)[0]
        return verb not in ("add", "change", "delete", "view") or verb in allowed
    return True


def site_limited(user) -> bool:
    profile = getattr(user, "profile", None) if user.is_authenticated else None
    return bool(profile and profile.site_limited)


class AccountBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            user = get_user_model()._default_manager.select_related("profile").get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        perms = super().get_all_permissions(user_obj, obj)
        if not perms or not _profile_limited(user_obj):
            return perms
        return {p for p in perms if applies_to_sites(p)}


def _profile_limited(user) -> bool:
    try:
        profile = user.profile
    except Exception:  # no profile row: estate-wide
        return False
    return bool(profile.site_limited)
