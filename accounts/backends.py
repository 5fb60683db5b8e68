"""Django's model backend, plus the two things site-limited accounts need.

* The account's profile is loaded with the account (one join, no extra query per request), so knowing that an
  account is estate-wide — the common case — costs nothing.
* A site-limited account keeps only the permissions that can apply to its sites: any permission on a model that
  belongs to a site, and ``view`` on the estate's shared objects. Everything else (changing Kamailio nodes,
  dispatcher sets or service codes, the audit log, portal accounts) stays with estate administrators, whatever
  the role's group holds — so the menus, buttons and permission checks that already exist follow the limit.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db import connections, router
from django.dispatch import receiver

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
        user = account_with_profile(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        perms = super().get_all_permissions(user_obj, obj)
        if not perms or not _profile_limited(user_obj):
            return perms
        return {p for p in perms if applies_to_sites(p)}


def account_with_profile(user_id):
    """The account and its profile (or the knowledge that it has none), as
    ``select_related("profile").get(pk=user_id)`` reads them, with one plain statement.

    Every signed-in request loads its account. Through the ORM that is a queryset built and compiled to the same
    SQL each time, about a millisecond of the portal's CPU per request on the 2-core bench machine (ten times the
    statement itself); here the statement is written once per database, and the values go
    through the same converters and ``from_db`` the ORM uses, so the objects are the ORM's own (the profile
    cached on the account, the account on the profile: neither costs a query later).
    """
    try:
        pk = get_user_model()._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    plan = _account_plan(router.db_for_read(get_user_model()))
    connection = connections[plan.alias]
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, [plan.user_model._meta.pk.get_db_prep_value(pk, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, converters, column in plan.converters:
        for convert in converters:
            values[index] = convert(values[index], column, connection)
    user = plan.user_model.from_db(plan.alias, plan.user_attnames, values[:plan.split])
    profile_values = values[plan.split:]
    profile = None
    if profile_values[plan.profile_pk_index] is not None:
        profile = plan.profile_rel.related_model.from_db(plan.alias, plan.profile_attnames, profile_values)
        plan.profile_rel.field.set_cached_value(profile, user)
    plan.profile_rel.set_cached_value(user, profile)
    return user


@dataclass(frozen=True)
class _AccountPlan:
    alias: str
    sql: str
    user_model: type
    user_attnames: list[str]
    profile_rel: Any
    profile_attnames: list[str]
    profile_pk_index: int
    split: int
    converters: list[tuple[int, list, Any]]


@lru_cache(maxsize=None)
def _account_plan(alias: str) -> _AccountPlan:
    user_model = get_user_model()
    profile_rel = user_model._meta.get_field("profile")
    profile_model = profile_rel.related_model
    connection = connections[alias]
    quote = connection.ops.quote_name
    user_table, profile_table = user_model._meta.db_table, profile_model._meta.db_table
    user_cols = [f.get_col(user_table) for f in user_model._meta.concrete_fields]
    profile_cols = [f.get_col(profile_table) for f in profile_model._meta.concrete_fields]
    selected = ", ".join(f"{quote(col.alias)}.{quote(col.target.column)}" for col in user_cols + profile_cols)
    sql = (f"SELECT {selected} FROM {quote(user_table)} LEFT OUTER JOIN {quote(profile_table)} "
           f"ON ({quote(user_table)}.{quote(user_model._meta.pk.column)} = "
           f"{quote(profile_table)}.{quote(profile_rel.field.column)}) "
           f"WHERE {quote(user_table)}.{quote(user_model._meta.pk.column)} = %s")
    converters = []
    for index, col in enumerate(user_cols + profile_cols):  # what SQLCompiler.get_converters applies
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            converters.append((index, found, col))
    return _AccountPlan(alias=alias, sql=sql, user_model=user_model,
                        user_attnames=[c.target.attname for c in user_cols], profile_rel=profile_rel,
                        profile_attnames=[c.target.attname for c in profile_cols],
                        profile_pk_index=[c.target for c in profile_cols].index(profile_model._meta.pk),
                        split=len(user_cols), converters=converters)


@receiver(setting_changed)
def _forget_account_plan(*, setting, **kwargs):
    if setting in ("DATABASES", "AUTH_USER_MODEL"):
        _account_plan.cache_clear()


def _profile_limited(user) -> bool:
    try:
        profile = user.profile
    except Exception:  # no profile row: estate-wide
        return False
    return bool(profile.site_limited)
