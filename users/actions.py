"""The one write path for SIP users (UI, API, commands and the CSV import all call these).

Every write keeps three things in step inside ONE transaction:

* ``users_sipuser`` (the source of truth; the Asterisk realtime views read it directly);
* Kamailio's ``subscriber`` row (username = extension, domain = the site's SIP domain, ``password`` empty,
  ``ha1``/``ha1b``), present only while the user is enabled — that is how a disabled user cannot register.
  Kamailio's auth_db reads it on every REGISTER, so no reload is needed;
* the audit log (secrets masked; a password reset says "SIP password reset", never the password).

No change to a user asks the live estate for a reload (``request_reload``): Kamailio reads
``subscriber`` and Asterisk reads the realtime views on each request.

Every function here goes through ``voipadmin.crud`` (row lock, validation, audit, effects); ``import_users`` is
the same path for thousands of users at once (the CSV import): the same field validation, the same audit
entries, the same ``subscriber`` rows (``sync_subscribers``), the same hooks. Services keeps a projection of
users (a DDI rings a user's extension) and registers on ``users_changed``; every write here calls it.

Clear-text secrets leave these functions exactly once: ``create_user``/``update_user`` put a newly issued
password (and generated PIN) on the returned object as ``new_password``/``new_voicemail_pin``;
``reset_password``/``reset_voicemail_pin`` return them. Callers show them once and forget them.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from voipadmin import audit, crud
from voipadmin.actors import Actor
from voipadmin.kamailio import hashing
from voipadmin.kamailio.models import Subscriber

from . import blf, validators
from .models import MonitoredExtension, SipUser

VOICEMAIL_FIELDS = {"voicemail_enabled", "voicemail_pin", "voicemail_email", "name", "email", "extension",
                    "site", "enabled"}
EDITABLE_FIELDS = {"extension", "name", "email", "site", "enabled", "caller_id", "nat", "codecs",
                   "voicemail_enabled", "voicemail_pin", "voicemail_email"}
#: what Kamailio's ``subscriber`` row is made of
SUBSCRIBER_FIELDS = {"extension", "site", "enabled", "ha1", "ha1b"}

#: fn(user_ids, fields, *, reason): users were created or changed (``fields``: the fields that changed)
users_changed = crud.Hook("users.users_changed")


def _set_hashes(user: SipUser, password: str) -> None:
    creds = hashing.credentials(user.username, user.site.sip_domain, password)
    user.ha1, user.ha1b = creds["ha1"], creds["ha1b"]


def _key(user: SipUser) -> tuple[str, str]:
    return user.username, user.site.sip_domain


def sync_subscribers(rows: Iterable[dict[str, Any]], *, stale: Iterable[tuple[str, str]] = (),
                     fresh: bool = False) -> None:
    """Make Kamailio's ``subscriber`` rows match users (present iff enabled). Call inside the transaction.

    ``rows``: {username, domain, enabled, ha1, ha1b}; ``stale``: (username, domain) keys the users had before
    (a new extension or SIP domain). ``fresh``: the keys are new (a created user), nothing to remove first.
    """
    rows = list(rows)
    drop: dict[str, set[str]] = defaultdict(set)
    for username, domain in stale:
        drop[domain].add(username)
    if not fresh:
        for r in rows:
            drop[r["domain"]].add(r["username"])
    for domain, usernames in drop.items():
        Subscriber.objects.filter(domain=domain, username__in=sorted(usernames)).delete()
    crud.copy_rows(Subscriber, [{**r, "password": ""} for r in rows if r["enabled"]],
                   ["username", "domain", "password", "ha1", "ha1b"])


def sync_subscriber(user: SipUser, old_key: tuple[str, str] | None = None) -> None:
    """``sync_subscribers`` for one user."""
    username, domain = _key(user)
    sync_subscribers([{"username": username, "domain": domain, "enabled": user.enabled, "ha1": user.ha1,
                       "ha1b": user.ha1b}], stale=[old_key] if old_key and old_key != (username, domain) else [])


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


_VERB = {"create": "created", "update": "changed", "delete": "deleted"}


def _effects(write: crud.Write) -> None:
    """After every write of one user: its ``subscriber`` row, the reloads (none), the hooks."""
    user, old = write.obj, write.old
    changed = write.changed
    reason = f"user {user} {_VERB[write.action]}"
    if write.action == "delete":
        request_reload({user.site_id}, voicemail=user.voicemail_enabled, reason=reason)
        return
    if write.action == "create" or changed & SUBSCRIBER_FIELDS:
        sync_subscriber(user, _key(old) if old else None)
    if write.action == "create" or changed or write.message:
        site_ids = {user.site_id} | ({old.site_id} if old else set())
        request_reload(site_ids, voicemail=write.action == "create" and user.voicemail_enabled
                       or bool(changed & VOICEMAIL_FIELDS), reason=reason)
        users_changed({user.pk}, changed, reason=reason)


# --- BLF keys (monitored extensions) ------------------------------------------------------------------------------


def _keys_snapshot(user: SipUser) -> dict[str, Any]:
    """The keys in the log, as the CSV cell writes them (``4003;4004:Reception``)."""
    cell = blf.format_cell(blf.stored(user)) if user.pk else ""
    return {"monitored_extensions": cell} if cell else {}


def key_errors(keys: list[blf.Key], refused: list[tuple[int, str]]) -> list[str]:
    """``blf.problems`` as messages naming each key (API and actions: "Key 3: 4003 is not …")."""
    return [gettext("Key %(key)d (%(extension)d): %(problem)s.") % {"key": i + 1, "extension": keys[i][0],
                                                                     "problem": problem}
            if i >= 0 else problem[:1].upper() + problem[1:] + "." for i, problem in refused]


def _check_keys(keys: list[blf.Key]) -> Callable[[SipUser], None]:
    def check(user: SipUser) -> None:
        refused = blf.problems(keys, own_extension=user.extension)
        if refused:
            raise ValidationError({"monitored_extensions": key_errors(keys, refused)})
    return check


def _set_keys(user: SipUser, keys: list[blf.Key]) -> None:
    """Replace the user's keys (positions 1..N). A label equal to the monitored user's display name is stored
    empty, so it follows a rename (a client that reads the keys and writes them back pins nothing)."""
    targets = {u.extension: u for u in SipUser.objects.filter(extension__in=[e for e, _ in keys])
               .only("id", "extension", "name")}
    gone = [ext for ext, _ in keys if ext not in targets]
    if gone:  # deleted since the check: the foreign key would refuse it anyway, say it plainly
        raise ValidationError({"monitored_extensions": [
            gettext("%(extension)d is not an extension of the estate") % {"extension": ext} for ext in gone]})
    keys = [(ext, "" if label == targets[ext].name else label) for ext, label in keys]
    getattr(user, "_prefetched_objects_cache", {}).pop("monitored_extensions", None)  # (a caller's copy reads anew)
    if keys == blf.stored(user):
        return  # the edit page sends the list with every save: unchanged, nothing is rewritten
    MonitoredExtension.objects.filter(user_id=user.pk).delete()
    MonitoredExtension.objects.bulk_create(
        MonitoredExtension(user_id=user.pk, position=n, monitored=targets[ext], label=label)
        for n, (ext, label) in enumerate(keys, start=1))


def set_monitored_extensions(user: SipUser, keys: Iterable[blf.Key], *, actor: Actor) -> SipUser:
    """Replace a user's BLF keys: ``[(extension, label), ...]`` in button order (``update_user`` with only them)."""
    return update_user(user, actor=actor, monitored_extensions=list(keys))


def _drop_keys_watching(old: SipUser, actor: Actor) -> None:
    """A user about to be deleted: the keys that watch it go (FreePBX does the same), each watcher's later keys
    move up, and each watcher's log says which key went — deleting a person who left is not refused because a
    receptionist still had a lamp for them."""
    watchers = list(SipUser.objects.filter(monitored_extensions__monitored_id=old.pk).select_related("site")
                    .order_by("pk"))
    for watcher in watchers:
        remaining = [(ext, label) for ext, label in blf.stored(watcher) if ext != old.extension]
        crud.update(watcher, actor=actor, fields={}, message=f"BLF key of deleted user {old.extension} removed",
                    snapshot=_keys_snapshot, related=lambda w, keys=remaining: _set_keys(w, keys),
                    effects=[_effects])


def _known(fields: dict[str, Any]) -> None:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"unknown field(s): {', '.join(sorted(unknown))}")


def create_user(*, actor: Actor, password: str | None = None, monitored_extensions: Iterable[blf.Key] | None = None,
                **fields: Any) -> SipUser:
    """Create a user; ``password``/``voicemail_pin`` are generated when not given (see ``new_password``).
    ``monitored_extensions``: its BLF keys, ``[(extension, label), ...]`` in button order."""
    _known(fields)
    keys = None if monitored_extensions is None else list(monitored_extensions)
    password = password or None
    issued_password = password or validators.generate_password()
    issued: dict[str, str | None] = {"pin": None}

    def prepare(write: crud.Write) -> None:
        user = write.obj
        if not user.site_id:
            raise ValidationError({"site": gettext("Choose the user's home site.")})
        if user.voicemail_enabled and not user.voicemail_pin and user.extension:
            issued["pin"] = user.voicemail_pin = validators.generate_pin(user.extension)
        _check(user, password=password, pin_changed=True, ext_changed=True)
        _set_hashes(user, issued_password)

    user = crud.create(SipUser, actor=actor, fields=fields, prepare=prepare, effects=[_effects],
                       **({} if not keys else {"checks": [_check_keys(keys)], "snapshot": _keys_snapshot,
                                               "related": lambda u: _set_keys(u, keys)}))
    user.new_password = issued_password
    user.new_voicemail_pin = issued["pin"]
    return user


def update_user(user: SipUser, *, actor: Actor, password: str | None = None,
                monitored_extensions: Iterable[blf.Key] | None = None, **fields: Any) -> SipUser:
    """Change the given fields (PATCH). A new extension or SIP domain invalidates the digest hashes, so a
    new password is then issued unless one is given (``new_password`` on the result).
    ``monitored_extensions`` (None = keep): the whole new list of BLF keys, in the same transaction and log entry."""
    _known(fields)
    keys = None if monitored_extensions is None else list(monitored_extensions)
    password = password or None
    issued: dict[str, str | None] = {"password": None, "pin": None}

    def prepare(write: crud.Write) -> None:
        user, old = write.obj, write.old
        if user.voicemail_enabled and not user.voicemail_pin and user.extension:
            issued["pin"] = user.voicemail_pin = validators.generate_pin(user.extension)  # voicemail just turned on
        new_realm = _key(user) != _key(old)
        issued["password"] = password or (validators.generate_password() if new_realm else None)
        _check(user, password=password, pin_changed=user.voicemail_pin != old.voicemail_pin,
               ext_changed=user.extension != old.extension)
        if issued["password"]:
            _set_hashes(user, issued["password"])
            write.message = "SIP password reset"

    user = crud.update(user, actor=actor, fields=fields, prepare=prepare, effects=[_effects],
                       **({} if keys is None else {"checks": [_check_keys(keys)], "snapshot": _keys_snapshot,
                                                   "related": lambda u: _set_keys(u, keys)}))
    user.new_password = issued["password"]
    user.new_voicemail_pin = issued["pin"]
    return user


def delete_user(user: SipUser, *, actor: Actor) -> None:
    """Delete a user: its ``subscriber`` row, its own BLF keys (in its log entry) and the keys of others that
    watch it (``_drop_keys_watching``: an update entry on each watcher)."""
    def remove_subscriber(old: SipUser) -> None:
        Subscriber.objects.filter(username=old.username, domain=old.site.sip_domain).delete()
        _drop_keys_watching(old, actor)

    crud.delete(user, actor=actor, related=remove_subscriber, snapshot=_keys_snapshot, effects=[_effects])


def reset_password(user: SipUser, *, actor: Actor, password: str | None = None) -> str:
    """Issue a new SIP password (generated unless given) and return it — the only time it exists in clear."""
    password = password or validators.generate_password()
    validators.validate_password(password)
    crud.update(user, actor=actor, fields={}, message="SIP password reset",
                prepare=lambda write: _set_hashes(write.obj, password), effects=[_effects])
    return password


def reset_voicemail_pin(user: SipUser, *, actor: Actor, pin: str | None = None) -> str:
    """Set the voicemail PIN (typed, or generated when None) under the PIN policy; returns it to show once."""
    pin = (pin or "").strip() or validators.generate_pin(user.extension)
    validators.validate_pin(pin, user.extension)
    crud.update(user, actor=actor, fields={"voicemail_pin": pin}, message="Voicemail PIN reset",
                effects=[_effects])
    return pin


# --- many users at once (the CSV import) ------------------------------------------------------------------------


@dataclass
class NewUser:
    """A user to create: validated field values (``site`` a Site), the password given or None, the PIN given."""

    fields: dict[str, Any]
    password: str | None = None


@dataclass
class UserChange:
    """An existing (locked) user and the validated fields to set on it; the password given or None."""

    user: SipUser
    fields: dict[str, Any]
    password: str | None = None


@dataclass
class Batch:
    creates: list[NewUser] = field(default_factory=list)
    updates: list[UserChange] = field(default_factory=list)
    #: users' new BLF keys (owner extension → keys), validated; written once the whole file is in (``_import_keys``)
    keys: dict[int, list[blf.Key]] = field(default_factory=dict)
    keys_only: int = 0  # existing users whose only change is their keys (counted as updated)


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    issued: int = 0  # users with a generated password or PIN (handed to ``secrets``)


DEFAULTS = {"enabled": True, "voicemail_enabled": True, "nat": False, "caller_id": "", "codecs": "",
            "voicemail_email": "", "email": "", "voicemail_pin": ""}


def _issued_row(extension: int, name: str, site, password: str, pin: str) -> dict[str, str]:
    return {"extension": str(extension), "name": name, "site": site.slug, "sip_domain": site.sip_domain,
            "password": password, "voicemail_pin": pin}


def _write_batch(batch: Batch, *, actor: Actor, message: str, secrets: Callable[[dict[str, str]], Any],
                 result: BulkResult, site_ids: set[int], changed_fields: set[str], changed_ids: set[int]) -> None:
    # new users: plain rows (what create_user would save), COPY, one audit entry each, their subscribers
    rows = []
    for new in batch.creates:
        f = {**DEFAULTS, **new.fields}
        site = f.pop("site")
        ext = f["extension"]
        username = str(ext)
        password = new.password or validators.generate_password()
        pin = f["voicemail_pin"]
        if f["voicemail_enabled"] and not pin:
            pin = f["voicemail_pin"] = validators.generate_pin(ext)
        f.update(site_id=site.pk, ha1=hashing.ha1(username, site.sip_domain, password),
                 ha1b=hashing.ha1b(username, site.sip_domain, password))
        rows.append(f)
        issued_password = "" if new.password else password
        issued_pin = pin if pin != new.fields.get("voicemail_pin", "") else ""
        if issued_password or issued_pin:
            secrets(_issued_row(ext, f["name"], site, issued_password, issued_pin))
            result.issued += 1
        site_ids.add(site.pk)
    crud.bulk_create(SipUser, rows, actor=actor, message=message, natural_key="extension")
    sync_subscribers(({"username": str(r["extension"]), "domain": site_domain, "enabled": r["enabled"],
                       "ha1": r["ha1"], "ha1b": r["ha1b"]}
                      for r, site_domain in zip(rows, (n.fields["site"].sip_domain for n in batch.creates))),
                     fresh=True)
    result.created += len(rows)

    # changed users: the same steps as update_user, on instances, then one bulk_update
    users, befores, stale, messages, names = [], [], [], [], set()
    for change in batch.updates:
        user = change.user
        befores.append(audit.snapshot(user))
        old_key, old_site_id = _key(user), user.site_id
        for name, value in change.fields.items():
            setattr(user, name, value)
        issued_pin = ""
        if user.voicemail_enabled and not user.voicemail_pin:
            user.voicemail_pin = issued_pin = validators.generate_pin(user.extension)
        password = change.password
        issued_password = ""
        if not password and _key(user) != old_key:
            password = issued_password = validators.generate_password()  # new realm: new hashes needed
        if password:
            _set_hashes(user, password)
        if issued_password or issued_pin:
            secrets(_issued_row(user.extension, user.name, user.site, issued_password, issued_pin))
            result.issued += 1
        if _key(user) != old_key:
            stale.append(old_key)
        messages.append(message + ("; SIP password reset" if password else ""))
        names.update(change.fields, {"voicemail_pin", "ha1", "ha1b"})
        site_ids.update({old_site_id, user.site_id})
        changed_fields.update(audit.diff(befores[-1], audit.snapshot(user)))
        changed_ids.add(user.pk)
        users.append(user)
    crud.bulk_update(users, actor=actor, befores=befores, fields=names, messages=messages)
    sync_subscribers(({"username": u.username, "domain": u.site.sip_domain, "enabled": u.enabled, "ha1": u.ha1,
                       "ha1b": u.ha1b} for u in users), stale=stale)
    result.updated += len(users)


def _import_keys(keys_by_owner: dict[int, list[blf.Key]], *, actor: Actor, message: str) -> set[int]:
    """The import's BLF keys, after every user of the file exists (a key may name a user created further down):
    a few set-based queries, one log entry per user whose keys changed. Returns those users' ids."""
    if not keys_by_owner:
        return set()
    wanted = sorted(set(keys_by_owner) | {ext for keys in keys_by_owner.values() for ext, _ in keys})
    users: dict[int, SipUser] = {}
    for i in range(0, len(wanted), 5000):
        users.update((u.extension, u) for u in SipUser.objects.filter(extension__in=wanted[i:i + 5000])
                     .only("id", "extension", "name"))
    gone = sorted(set(wanted) - set(users))
    if gone:  # (checked line by line; only a concurrent delete gets here)
        raise ValidationError(gettext("Nothing was imported: extension(s) %(extensions)s no longer exist. Run the "
                                      "import again.") % {"extensions": ", ".join(map(str, gone))})
    owner_ids = [users[ext].pk for ext in keys_by_owner]
    before: dict[int, list[blf.Key]] = defaultdict(list)
    for user_id, ext, label in (MonitoredExtension.objects.filter(user_id__in=owner_ids)
                                .order_by("user_id", "position").values_list("user_id", "monitored__extension", "label")):
        before[user_id].append((ext, label))
    changed, rows, log = [], [], []
    for owner_ext, keys in keys_by_owner.items():
        owner = users[owner_ext]
        new = [(ext, "" if label == users[ext].name else label) for ext, label in keys]
        old = before.get(owner.pk, [])
        if new == old:
            continue
        changed.append(owner.pk)
        rows.extend(MonitoredExtension(user_id=owner.pk, position=n, monitored_id=users[ext].pk, label=label)
                    for n, (ext, label) in enumerate(new, start=1))
        cells = [blf.format_cell(old), blf.format_cell(new)]
        log.append((owner, audit.diff(*({"monitored_extensions": c} if c else {} for c in cells))))
    MonitoredExtension.objects.filter(user_id__in=changed).delete()
    MonitoredExtension.objects.bulk_create(rows, batch_size=2000)
    crud.log_updates(SipUser, log, actor=actor, message=f"{message}: BLF keys")
    return set(changed)


def import_users(batches: Iterable[Batch] | Iterator[Batch], *, actor: Actor, message: str = "CSV import",
                 secrets: Callable[[dict[str, str]], Any] | None = None) -> BulkResult:
    """Create and change users in ONE transaction, batch by batch (memory stays one batch's).

    Field values arrive validated (``crud.field_errors`` and the users validators, line by line); this writes
    them as ``create_user``/``update_user`` would: generated passwords and PINs (each handed to ``secrets``,
    never stored in clear), hashes, ``subscriber`` rows, one audit entry per user, then the reloads and the
    ``users_changed`` hook. The batches may come from a generator that locks the users it updates.
    """
    result = BulkResult()
    site_ids: set[int] = set()
    changed_fields: set[str] = set()
    changed_ids: set[int] = set()
    keys: dict[int, list[blf.Key]] = {}  # (memory: the keyed lines' keys, a few bytes each)
    secrets = secrets or (lambda row: None)
    try:
        with transaction.atomic():
            for batch in batches:
                _write_batch(batch, actor=actor, message=message, secrets=secrets, result=result,
                             site_ids=site_ids, changed_fields=changed_fields, changed_ids=changed_ids)
                keys.update(batch.keys)
                result.updated += batch.keys_only
            if keyed := _import_keys(keys, actor=actor, message=message):
                changed_ids |= keyed
                changed_fields.add("monitored_extensions")
            reason = f"{message}: {result.created} created, {result.updated} updated"
            request_reload(site_ids, voicemail=True, reason=reason)
            if changed_ids:
                users_changed(changed_ids, changed_fields, reason=reason)
    except IntegrityError as exc:  # a concurrent change took an extension between the check and the write
        raise ValidationError(gettext("Nothing was imported: the database refused the import (%(error)s). "
                                      "Run the import again.") % {"error": exc}) from None
    return result


# --- many users from a list page (enable, disable, move to another site, delete) --------------------------------

#: what a bulk change may set (the rest of a user is changed on its own page)
BULK_FIELDS = {"enabled", "site"}


def _label(name: str) -> str:
    return str(SipUser._meta.get_field(name).verbose_name)


def _yes_no(value: bool) -> str:
    return gettext("yes") if value else gettext("no")


def plan_bulk_update(users: Iterable[SipUser], **fields: Any) -> list[crud.Planned]:
    """What ``bulk_update_users`` would do to each user: before → after, or why it is refused.

    A user moves only to a site whose extension ranges admit its extension, and only within its SIP domain
    (a new domain needs new digest hashes, i.e. a new password to hand out: that is the user's own page).
    Queries: the target site's ranges once, whatever the number of users (``users`` come with their site).
    """
    unknown = set(fields) - BULK_FIELDS
    if unknown:
        raise TypeError(f"not a bulk field: {', '.join(sorted(unknown))}")
    site = fields.get("site")
    if site is not None:
        ranges = list(site.extension_ranges.all())
        site_ranges = ", ".join(str(r) for r in ranges) or gettext("none")
    plan = []
    for user in users:
        row = crud.Planned(obj=user)
        if "enabled" in fields and user.enabled != fields["enabled"]:
            row.changes[_label("enabled")] = (_yes_no(user.enabled), _yes_no(fields["enabled"]))
        if site is not None and user.site_id != site.pk:
            if not any(r.start <= user.extension <= r.end for r in ranges):
                row.refused = gettext("%(extension)s is outside %(site)s's extension ranges (%(ranges)s).") % {
                    "extension": user.extension, "site": site, "ranges": site_ranges}
            elif user.site.sip_domain != site.sip_domain:
                row.refused = gettext("%(site)s has another SIP domain (%(domain)s): the user would need a new SIP "
                                      "password; move it on its own page.") % {"site": site, "domain": site.sip_domain}
            else:
                row.changes[_label("site")] = (str(user.site), str(site))
        plan.append(row)
    return plan


def _refusals(plan: list[crud.Planned]) -> None:
    refused = [f"{p.obj}: {p.refused}" for p in plan if p.refused]
    if refused:
        raise ValidationError(refused)


def _locked(users: Iterable[SipUser]) -> list[SipUser]:
    """The stored rows of these users, locked (in pk order: two bulk changes never wait on each other)."""
    return crud.lock_many(SipUser.objects.select_related("site"), [u.pk for u in users])


def bulk_update_users(users: Iterable[SipUser], *, actor: Actor, message: str = "Bulk change",
                      **fields: Any) -> int:
    """Enable, disable or move (``site``) many users in ONE transaction, all or nothing: if any user is
    refused (``plan_bulk_update``), nothing changes. One audit entry per changed user, their ``subscriber``
    rows (a disabled user cannot register), the ``users_changed`` hook. Returns how many changed."""
    with transaction.atomic():
        locked = _locked(users)
        plan = plan_bulk_update(locked, **fields)
        _refusals(plan)
        changed = [p.obj for p in plan if p.changes]
        if not changed:
            return 0
        befores = [audit.snapshot(u) for u in changed]
        site_ids = {u.site_id for u in changed}
        for user in changed:
            for name, value in fields.items():
                setattr(user, name, value)
        crud.bulk_update(changed, actor=actor, befores=befores, fields=set(fields), message=message)
        sync_subscribers({"username": u.username, "domain": u.site.sip_domain, "enabled": u.enabled,
                          "ha1": u.ha1, "ha1b": u.ha1b} for u in changed)
        reason = f"{message}: {len(changed)} user(s) changed"
        request_reload(site_ids | {u.site_id for u in changed}, voicemail=True, reason=reason)
        users_changed({u.pk for u in changed}, set(fields), reason=reason)
    return len(changed)


def plan_bulk_delete(users: Iterable[SipUser]) -> list[crud.Planned]:
    """What ``bulk_delete_users`` would do: each user deleted, or refused while something still points at it
    (a DDI that rings it). One query per protecting relation, whatever the number of users."""
    users = list(users)
    protected = crud.protected_by(SipUser, [u.pk for u in users])
    return [crud.Planned(obj=u, deleted=True,
                         refused=gettext("still used by %(users)s; change that first.")
                         % {"users": ", ".join(protected[u.pk])}
                         if u.pk in protected else "")
            for u in users]


def bulk_delete_users(users: Iterable[SipUser], *, actor: Actor) -> int:
    """Delete many users in ONE transaction, each through ``delete_user`` (its subscriber row, its audit
    entry): if any is refused, none is deleted."""
    with transaction.atomic():
        locked = _locked(users)
        _refusals(plan_bulk_delete(locked))
        for user in locked:
            delete_user(user, actor=actor)
    return len(locked)
