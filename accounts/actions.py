"""Portal log-in accounts managed in the portal: the one write path (``voipadmin.crud``), audited.

An account is Django's ``auth.User`` plus its ``AccountProfile`` (sites, language, time zone) and one role (a
group of ``voipadmin.roles.ROLES``). Every change is ONE audit entry on the account, whose snapshot holds the
profile's fields, the role and the sites next to the user's own columns (the profile and the role are the
write's ``related`` rows, as a site's extension ranges are).

Rules kept here, so that no page or command can skip them:

* a site-limited account is never a superuser nor staff (``/django-admin/`` knows no sites) and has a site;
* an account cannot disable itself nor take its own Administrator role away (nor limit itself to sites);
* the estate always keeps one active, estate-wide administrator.
"""
from __future__ import annotations

import zoneinfo
from typing import Any, Iterable

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from voipadmin import audit, crud
from voipadmin.accounts import new_password
from voipadmin.actors import Actor
from voipadmin.roles import ADMINISTRATOR, ROLES

from .models import AccountProfile



# --- reading an account -------------------------------------------------------------------------------------------


def role_of(user) -> str:
    """The account's role: the first of ROLES among its groups ("" for none). Uses prefetched groups if any."""
    names = {g.name for g in user.groups.all()}
    return next((r for r in ROLES if r in names), "")


def profile_of(user) -> AccountProfile | None:
    try:
        return user.profile
    except AccountProfile.DoesNotExist:
        return None


def _stored_profile(user) -> AccountProfile | None:
    """The profile as stored now (never a cached copy: the log's before and after must be the database's)."""
    return AccountProfile.objects.filter(user_id=user.pk).first()


def _snapshot(user) -> dict[str, Any]:
    """The account's log snapshot beyond the user's columns: profile, role, sites — and the password as a mask.

    (``auth.User`` declares no ``audit_secret_fields``: without this the log would hold the password's hash.)
    """
    user.audit_secret_fields = ("password",)
    profile = _stored_profile(user)
    return {
        "password": audit.snapshot(user)["password"],
        "role": next(iter(sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))), ""),
        "site_limited": bool(profile and profile.site_limited),
        "sites": sorted(profile.sites.values_list("name", flat=True)) if profile else [],
        "language": profile.language if profile else "",
        "time_zone": profile.time_zone if profile else "",
    }


# --- the rules ----------------------------------------------------------------------------------------------------


def _estate_administrators():
    """Active accounts that administer the whole estate (the Administrator role, or superusers), not limited."""
    return (get_user_model().objects.filter(is_active=True)
            .filter(Q(groups__name=ADMINISTRATOR) | Q(is_superuser=True))
            .exclude(profile__site_limited=True).distinct())


def _check_others_administer(user) -> None:
    """Refuse when ``user`` is the last active estate-wide administrator. The others' rows are locked until the
    transaction ends, so that two administrators demoting each other at once cannot both succeed."""
    others = crud.lock_many(get_user_model().objects.all(),
                            _estate_administrators().exclude(pk=user.pk).values_list("pk", flat=True))
    if not _estate_administrators().filter(pk__in=[o.pk for o in others]).exists():  # (as they are once locked)
        raise ValidationError(_("%(account)s is the last active estate-wide administrator: the estate would have "
                                "nobody to administer it. Give another account that role first.")
                              % {"account": user.get_username()})


def _is_estate_administrator(user, *, role: str, site_limited: bool, is_active: bool) -> bool:
    return is_active and not site_limited and (role == ADMINISTRATOR or user.is_superuser)


def _rules(*, actor: Actor, was_administrator: bool, role: str, site_limited: bool, sites: Iterable | None):
    """The checks of one write (crud runs them on the changed account, inside the transaction)."""
    def check(user) -> None:
        errors: dict[str, list] = {}
        myself = actor.user is not None and actor.user.pk == user.pk
        if myself and not user.is_active:
            errors.setdefault("__all__", []).append(_("You cannot disable your own account."))
        if myself and was_administrator and role != ADMINISTRATOR:
            errors.setdefault("role", []).append(_("You cannot remove your own Administrator role."))
        if myself and was_administrator and site_limited:
            errors.setdefault("sites", []).append(
                _("You cannot limit your own account to sites: you would lose the management of accounts."))
        if site_limited and sites is not None and not list(sites):
            errors.setdefault("sites", []).append(_("A site-limited account needs at least one site."))
        if site_limited and (user.is_superuser or user.is_staff):
            errors.setdefault("sites", []).append(
                _("A site-limited account cannot be a superuser nor have access to Django's admin."))
        if errors:
            raise ValidationError(errors)
        if was_administrator and not _is_estate_administrator(user, role=role, site_limited=site_limited,
                                                              is_active=user.is_active):
            _check_others_administer(user)
    return check


# --- the writes ---------------------------------------------------------------------------------------------------


def _apply_profile(user, *, role: str | None = None, site_limited: bool | None = None, sites=None,
                   **preferences: str) -> None:
    """Write the role and the profile's rows of ``user`` (crud's ``related``: after the user, same transaction)."""
    if role is not None:
        user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role))
        if role:
            user.groups.add(Group.objects.get(name=role))
    profile = _stored_profile(user) or AccountProfile(user=user)
    if site_limited is not None:
        profile.site_limited = site_limited
    for name, value in preferences.items():
        setattr(profile, name, value or "")
    profile.full_clean(exclude=["user", "sites"])
    profile.save()
    if sites is not None:
        profile.sites.set(list(sites) if profile.site_limited else [])


def _password_hash(user, password: str) -> str:
    """A typed password, validated as the settings say (AUTH_PASSWORD_VALIDATORS, knowing the account)."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    return make_password(password)


def create_account(*, actor: Actor, username: str, role: str, first_name: str = "", last_name: str = "",
                   email: str = "", site_limited: bool = False, sites: Iterable = (), language: str = "",
                   time_zone: str = "", password: str = ""):
    """A new account; with no ``password`` typed, one is generated and returned on ``user.new_password`` (shown
    once, only its hash is stored)."""
    _check_time_zone(time_zone)
    _check_role(role)
    sites = list(sites)
    fields = {"username": username, "first_name": first_name, "last_name": last_name, "email": email,
              "is_active": True, "is_staff": False, "is_superuser": False}
    issued = "" if password else new_password()

    def prepare(write) -> None:
        write.obj.password = _password_hash(write.obj, password) if password else make_password(issued)

    user = crud.create(get_user_model(), actor=actor, fields=fields, prepare=prepare,
                       message="account created; password issued once" if issued else "account created",
                       checks=[_rules(actor=actor, was_administrator=False, role=role, site_limited=site_limited,
                                      sites=sites)],
                       related=lambda u: _apply_profile(u, role=role, site_limited=site_limited, sites=sites,
                                                        language=language, time_zone=time_zone),
                       snapshot=_snapshot)
    user.new_password = issued or None
    return user


def update_account(user, *, actor: Actor, role: str, first_name: str = "", last_name: str = "", email: str = "",
                   site_limited: bool = False, sites: Iterable = (), language: str = "", time_zone: str = ""):
    """Change an account's role, sites, name, e-mail, language and time zone (the rules above hold)."""
    _check_role(role)
    _check_time_zone(time_zone)
    sites = list(sites)
    was_administrator = _was_estate_administrator(user)
    fields: dict[str, Any] = {"first_name": first_name, "last_name": last_name, "email": email}
    if site_limited or role != ADMINISTRATOR:  # Django's admin and superuser rights are estate administrators'
        fields |= {"is_staff": False, "is_superuser": False}
    return crud.update(user, actor=actor, fields=fields, snapshot=_snapshot,
                       checks=[_rules(actor=actor, was_administrator=was_administrator, role=role,
                                      site_limited=site_limited, sites=sites)],
                       related=lambda u: _apply_profile(u, role=role, site_limited=site_limited, sites=sites,
                                                        language=language, time_zone=time_zone))


def set_active(user, *, actor: Actor, active: bool):
    """Disable (its sessions stop working at once: the backend refuses inactive accounts) or enable an account."""
    was_administrator = _was_estate_administrator(user)
    profile = _stored_profile(user)
    limited = bool(profile and profile.site_limited)
    return crud.update(user, actor=actor, fields={"is_active": active}, snapshot=_snapshot,
                       message="account enabled" if active else "account disabled",
                       checks=[_rules(actor=actor, was_administrator=was_administrator, role=role_of(user),
                                      site_limited=limited, sites=None)])


def reset_password(user, *, actor: Actor) -> str:
    """A new generated password (returned once) and the account's lock-outs cleared; its sessions end, since
    Django ties a session to the password's hash."""
    password = new_password()
    lockouts = AccessAttempt.objects.filter(username=user.get_username())
    crud.update(user, actor=actor, fields={"password": make_password(password)}, snapshot=_snapshot,
                related=lambda u: lockouts.delete(), message="password reset; new one issued once")
    return password


def change_own_password(user, *, actor: Actor, password: str):
    """The account's own new password (Django's password-change form has checked the old one and the rules)."""
    return crud.update(user, actor=actor, fields={"password": make_password(password)}, snapshot=_snapshot,
                       message="password changed by its owner")


def update_preferences(user, *, actor: Actor, language: str = "", time_zone: str = ""):
    """The account's own language and time zone (empty: the browser's language; the site's or portal's zone)."""
    _check_time_zone(time_zone)
    return crud.update(user, actor=actor, fields={}, snapshot=_snapshot,
                       related=lambda u: _apply_profile(u, language=language, time_zone=time_zone))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError({"role": _("Choose one of the roles: %(roles)s.") % {"roles": ", ".join(ROLES)}})


def _was_estate_administrator(user) -> bool:
    return _estate_administrators().filter(pk=user.pk).exists()


def _check_time_zone(time_zone: str) -> None:
    if time_zone and time_zone not in zoneinfo.available_timezones():
        raise ValidationError({"time_zone": _("%(zone)s is not a time zone this server knows.") % {"zone": time_zone}})
