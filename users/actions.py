"""The one write path for SIP users (UI, API, commands and the CSV import all call these).

Every write keeps three things in step inside ONE transaction:

* ``users_sipuser`` (the source of truth; the Asterisk realtime views read it directly);
* Kamailio's ``subscriber`` row (username = extension, domain = the site's SIP domain, ``password`` empty,
  ``ha1``/``ha1b``), present only while the user is enabled — that is how a disabled user cannot register.
  Kamailio's auth_db reads it on every REGISTER, so no reload is needed;
* the audit log (secrets masked; a password reset says "SIP password reset", never the password).

No change to a user asks the live estate for a reload (``request_reload``): Kamailio reads
``subscriber`` and Asterisk reads the realtime views on each request.

Clear-text secrets leave these functions exactly once: ``create_user``/``update_user`` put a newly issued
password (and generated PIN) on the returned object as ``new_password``/``new_voicemail_pin``;
``reset_password``/``reset_voicemail_pin`` return them. Callers show them once and forget them.
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from voipadmin import audit, crud
from voipadmin.actors import Actor
from voipadmin.kamailio import hashing
from voipadmin.kamailio.models import Subscriber
from voipadmin.models import ChangeLogEntry

from . import validators
from .models import SipUser

VOICEMAIL_FIELDS = {"voicemail_enabled", "voicemail_pin", "voicemail_email", "name", "email", "extension",
                    "site", "enabled"}
EDITABLE_FIELDS = {"extension", "name", "email", "site", "enabled", "caller_id", "nat", "codecs",
                   "voicemail_enabled", "voicemail_pin", "voicemail_email"}


def _set_hashes(user: SipUser, password: str) -> None:
    creds = hashing.credentials(user.username, user.site.sip_domain, password)
    user.ha1, user.ha1b = creds["ha1"], creds["ha1b"]


def _key(user: SipUser) -> tuple[str, str]:
    return user.username, user.site.sip_domain


def sync_subscriber(user: SipUser, old_key: tuple[str, str] | None = None) -> None:
    """Make Kamailio's ``subscriber`` row match the user (present iff enabled). Call inside the transaction."""
    new_key = _key(user)
    if old_key and old_key != new_key:
        Subscriber.objects.filter(username=old_key[0], domain=old_key[1]).delete()
    if user.enabled:
        Subscriber.objects.update_or_create(
            username=new_key[0], domain=new_key[1], defaults={"password": "", "ha1": user.ha1, "ha1b": user.ha1b})
    else:
        Subscriber.objects.filter(username=new_key[0], domain=new_key[1]).delete()


def request_reload(site_ids: set[int], *, voicemail: bool, reason: str) -> None:
    """What a user change asks of the live estate: nothing (the one place that decides it).

    Every side reads users from the database on each use: Kamailio's auth_db reads ``subscriber`` on
    every REGISTER; Asterisk's sorcery reads ``ps_endpoints``/``ps_auths``/``ps_aors`` with no cache
    (deploy/asterisk/templates/sorcery.conf) and app_voicemail reads ``voicemail`` on each login. A
    ``module reload res_pjsip.so`` or ``voicemail reload`` would only re-read the static files, on every
    node of the site, per change (tests/asterisk/test_push_real.py shows a created, changed, disabled or
    deleted user and a new PIN taking effect at once with no reload). Should a realtime cache ever be
    configured, this is where the reloads would be asked for again (``push.request``).
    """


def _check(user: SipUser, *, password: str | None, pin_changed: bool, ext_changed: bool) -> None:
    errors: dict[str, list[str]] = {}
    if password is not None and (problem := validators.password_problem(password)):
        errors.setdefault("password", []).append(problem)
    if pin_changed and user.voicemail_pin and (problem := validators.pin_problem(user.voicemail_pin,
                                                                                   user.extension)):
        errors.setdefault("voicemail_pin", []).append(problem)
    if user.voicemail_enabled and not user.voicemail_pin:
        errors.setdefault("voicemail_pin", []).append("A user with voicemail needs a PIN.")
    if ext_changed and user.extension:
        reason = validators.unavailable_extensions([user.extension]).get(user.extension)
        if reason:
            errors.setdefault("extension", []).append(reason)
    if errors:
        raise ValidationError(errors)


def create_user(*, actor: Actor, password: str | None = None, **fields: Any) -> SipUser:
    """Create a user; ``password``/``voicemail_pin`` are generated when not given (see ``new_password``)."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"unknown field(s): {', '.join(sorted(unknown))}")
    password = password or None
    issued_password = password or validators.generate_password()
    user = SipUser(**fields)
    if not user.site_id:
        raise ValidationError({"site": "Choose the user's home site."})
    issued_pin = None
    if user.voicemail_enabled and not user.voicemail_pin and user.extension:
        issued_pin = user.voicemail_pin = validators.generate_pin(user.extension)
    _check(user, password=password, pin_changed=True, ext_changed=True)
    with transaction.atomic():
        _set_hashes(user, issued_password)
        user = crud.create(SipUser, actor=actor, fields={f.name: getattr(user, f.name)
                                                          for f in SipUser._meta.concrete_fields
                                                          if f.name not in ("id", "created", "updated")})
        sync_subscriber(user)
        request_reload({user.site_id}, voicemail=user.voicemail_enabled, reason=f"user {user} created")
    user.new_password = issued_password
    user.new_voicemail_pin = issued_pin
    return user


def update_user(user: SipUser, *, actor: Actor, password: str | None = None, **fields: Any) -> SipUser:
    """Change the given fields (PATCH). A new extension or SIP domain invalidates the digest hashes, so a
    new password is then issued unless one is given (``new_password`` on the result)."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"unknown field(s): {', '.join(sorted(unknown))}")
    password = password or None
    with transaction.atomic():
        old = SipUser.objects.select_related("site").select_for_update(of=("self",)).get(pk=user.pk)
        old_key = _key(old)
        before = audit.snapshot(old)
        for name, value in fields.items():
            setattr(user, name, value)
        issued_pin = None
        if user.voicemail_enabled and not user.voicemail_pin and user.extension:
            issued_pin = user.voicemail_pin = validators.generate_pin(user.extension)  # voicemail just turned on
        ext_changed = user.extension != old.extension
        pin_changed = user.voicemail_pin != old.voicemail_pin
        new_key = _key(user)
        issued = password or (validators.generate_password() if new_key != old_key else None)
        _check(user, password=password, pin_changed=pin_changed, ext_changed=ext_changed)
        if issued:
            _set_hashes(user, issued)
        user.full_clean()
        user.save()
        message = "SIP password reset" if issued else ""
        audit.record(actor=actor, obj=user, action=ChangeLogEntry.Action.UPDATE, before=before, message=message)
        sync_subscriber(user, old_key)
        changed = set(audit.diff(before, audit.snapshot(user)))
        if changed or issued:
            voicemail = bool(changed & VOICEMAIL_FIELDS)
            request_reload({old.site_id, user.site_id}, voicemail=voicemail, reason=f"user {user} changed")
    user.new_password = issued
    user.new_voicemail_pin = issued_pin
    return user


def delete_user(user: SipUser, *, actor: Actor) -> None:
    with transaction.atomic():
        key = _key(user)
        Subscriber.objects.filter(username=key[0], domain=key[1]).delete()
        site_id, voicemail = user.site_id, user.voicemail_enabled
        crud.delete(user, actor=actor)
        request_reload({site_id}, voicemail=voicemail, reason=f"user {user} deleted")


def reset_password(user: SipUser, *, actor: Actor, password: str | None = None) -> str:
    """Issue a new SIP password (generated unless given) and return it — the only time it exists in clear."""
    password = password or validators.generate_password()
    validators.validate_password(password)
    with transaction.atomic():
        before = audit.snapshot(user)
        _set_hashes(user, password)
        user.save(update_fields=["ha1", "ha1b", "updated"])
        audit.record(actor=actor, obj=user, action=ChangeLogEntry.Action.UPDATE, before=before,
                     message="SIP password reset")
        sync_subscriber(user)
        request_reload({user.site_id}, voicemail=False, reason=f"user {user}: SIP password reset")
    return password


def reset_voicemail_pin(user: SipUser, *, actor: Actor, pin: str | None = None) -> str:
    """Set the voicemail PIN (typed, or generated when None) under the PIN policy; returns it to show once."""
    pin = (pin or "").strip() or validators.generate_pin(user.extension)
    validators.validate_pin(pin, user.extension)
    with transaction.atomic():
        before = audit.snapshot(user)
        user.voicemail_pin = pin
        user.save(update_fields=["voicemail_pin", "updated"])
        audit.record(actor=actor, obj=user, action=ChangeLogEntry.Action.UPDATE, before=before,
                     message="Voicemail PIN reset")
        request_reload({user.site_id}, voicemail=True, reason=f"user {user}: voicemail PIN reset")
    return pin
