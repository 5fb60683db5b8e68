"""The one write path for media applications (rooms, profiles, menus, AGI applications, announcements).

Each action validates, writes in one transaction and records the change (``voipadmin.crud``). Nothing is pushed
to the nodes: the application service reads these rows when a call arrives, so the next call sees the change.
A menu's options and open hours and an AGI application's servers are written with their object, in the same
transaction and audit entry (the snapshot carries them as text), so an API client sends one request.

Rules that span objects live here, not in the forms, so the UI and the API refuse the same things:

* a room / menu / AGI application is reached by a service code of kind ``application``, and one code reaches
  one object across the three models (each model's one-to-one only guards its own table);
* a menu option names the target its action needs (and only that one): an extension or mailbox of the estate,
  a menu or room of the menu's site, an AGI application of the estate or the site, a service code, digits;
* open hours open before they close; an after-hours menu is another menu of the same site;
* an enabled AGI application has at least one enabled server.
"""
from __future__ import annotations

import datetime
import hashlib
from typing import Any, Iterable

from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext

from services.choices import ServiceKind
from voipadmin import crud
from voipadmin.actors import Actor

from .models import (AgiApplication, AgiServer, Announcement, ConferenceProfile, ConferenceRoom, IvrMenu,
                     MenuAction, MenuHours, MenuKey, MenuOption, SiteAnnouncement)

APPLICATION_MODELS = (ConferenceRoom, IvrMenu, AgiApplication)
#: which target field each option action needs ("value": the digits); the others are saved empty
OPTION_TARGET = {MenuAction.EXTENSION: "value", MenuAction.VOICEMAIL: "value", MenuAction.NUMBER: "value",
                 MenuAction.MENU: "target_menu", MenuAction.ROOM: "room", MenuAction.SERVICE_CODE: "service_code",
                 MenuAction.AGI: "agi", MenuAction.REPEAT: None, MenuAction.HANGUP: None}
TARGET_FIELDS = ("value", "target_menu", "room", "service_code", "agi")


# --- service codes: kind "application", one object per code ------------------------------------------------------


def _application_code(obj) -> None:
    code = obj.service_code
    if code is None:
        return
    if code.kind != ServiceKind.APPLICATION:
        raise ValidationError({"service_code": gettext(
            "%(code)s is a code of kind “%(kind)s”; a room, menu or AGI application is reached by a code of kind "
            "“%(application)s”.") % {"code": code.code, "kind": code.get_kind_display(),
                                       "application": ServiceKind.APPLICATION.label}})
    for model in APPLICATION_MODELS:
        other = model.objects.filter(service_code=code)
        if isinstance(obj, model) and obj.pk:
            other = other.exclude(pk=obj.pk)
        holder = other.first()
        if holder is not None:
            raise ValidationError({"service_code": gettext("%(code)s already reaches %(type)s %(object)s.") % {
                "code": code.code, "type": model._meta.verbose_name, "object": holder}})


def code_holder(code) -> Any:
    """The room, menu or AGI application an application code reaches (None: none)."""
    for model in APPLICATION_MODELS:
        holder = model.objects.filter(service_code=code).first()
        if holder is not None:
            return holder
    return None


def code_reaches(code) -> str:
    """A service code's page: a link to what the code reaches (services.views.code_reaches)."""
    if code.kind == ServiceKind.ROOMS:
        return gettext("The caller's site's conference rooms (the caller keys the room number).")
    if code.kind != ServiceKind.APPLICATION:
        return ""
    holder = code_holder(code)
    if holder is None:
        return gettext("Nothing yet: callers hear “service unavailable”.")
    return format_html('<a href="{}">{}: {}</a>', holder.get_absolute_url(), holder._meta.verbose_name, holder)


def code_keeps_its_kind(code) -> None:
    """(services' hook) A code that reaches an object stays an application code while it does."""
    if code.kind == ServiceKind.APPLICATION or not code.pk:
        return
    holder = code_holder(code)
    if holder is not None:
        raise ValidationError({"kind": gettext("%(code)s reaches %(type)s %(object)s: it stays an application code "
                                               "until that no longer uses it.") % {
            "code": code.code, "type": holder._meta.verbose_name, "object": holder}})


def code_not_in_use(code) -> None:
    """(services' hook) Not deleted from under a room, menu or AGI application, nor from a menu's option."""
    holder = code_holder(code)
    if holder is not None:
        raise ValidationError(gettext("%(code)s reaches %(type)s %(object)s; choose another code for it first.") % {
            "code": code.code, "type": holder._meta.verbose_name, "object": holder}, code="protected")
    _no_references(code, _options_using(service_code=code))


def _no_references(obj, refs: Iterable[tuple[Any, str]]) -> None:
    """Refuse a delete while ``refs`` (queryset, message with %(objects)s) still point at ``obj``."""
    problems = []
    for queryset, message in refs:
        names = sorted({str(o) for o in queryset[:10]})
        if names:
            problems.append(message % {"objects": ", ".join(names)})
    if problems:
        raise ValidationError(problems, code="protected")


def _options_using(**lookup):
    return [(IvrMenu.objects.filter(options__in=MenuOption.objects.filter(**lookup)).distinct(),
             gettext("Menu(s) %(objects)s still send callers here; change their options first."))]


# --- conference profiles and rooms --------------------------------------------------------------------------------


def create_conference_profile(*, actor: Actor, **fields: Any) -> ConferenceProfile:
    return crud.create(ConferenceProfile, actor=actor, fields=fields)


def update_conference_profile(profile: ConferenceProfile, *, actor: Actor, **fields: Any) -> ConferenceProfile:
    return crud.update(profile, actor=actor, fields=fields)


def delete_conference_profile(profile: ConferenceProfile, *, actor: Actor) -> None:
    crud.delete(profile, actor=actor, checks=[lambda p: _no_references(p, [
        (p.rooms.all(), gettext("Room(s) %(objects)s still use this profile; choose another for them first."))])])


def _room_rules(room: ConferenceRoom) -> None:
    _application_code(room)


def create_conference_room(*, actor: Actor, **fields: Any) -> ConferenceRoom:
    return crud.create(ConferenceRoom, actor=actor, fields=fields, checks=[_room_rules])


def update_conference_room(room: ConferenceRoom, *, actor: Actor, **fields: Any) -> ConferenceRoom:
    return crud.update(room, actor=actor, fields=fields, checks=[_room_rules])


def delete_conference_room(room: ConferenceRoom, *, actor: Actor) -> None:
    crud.delete(room, actor=actor, checks=[lambda r: _no_references(r, _options_using(room=r))])


# --- IVR menus: options and open hours ---------------------------------------------------------------------------


def option_problems(menu: IvrMenu, options: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(index, problem) for each option that cannot be saved on ``menu`` (its site and pk as given): the form
    names the line, the action the key. Irrelevant targets are emptied in place (the action's one target)."""
    from users.models import SipUser

    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    wanted_extensions = {}
    for index, option in enumerate(options):
        key, action = option.get("key", ""), option.get("action", "")
        if key in seen:
            problems.append((index, gettext("key %(key)s has two options") % {"key": key}))
        seen[key] = index
        target = OPTION_TARGET.get(action, "missing")
        for name in TARGET_FIELDS:
            if name != target:
                option[name] = "" if name == "value" else None
        probe = MenuOption(menu=menu if menu.pk else None, key=key, action=action,
                           **{name: option.get(name) for name in TARGET_FIELDS})
        try:
            probe.full_clean(exclude=["menu"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            problems.extend((index, m) for m in exc.messages)
            continue
        value = option.get("value") or ""
        if target == "value" and not value:
            problems.append((index, gettext("give the extension or number")))
        elif action in (MenuAction.EXTENSION, MenuAction.VOICEMAIL):
            if value.startswith("+"):
                problems.append((index, gettext("an extension is digits only")))
            else:
                wanted_extensions[index] = int(value)
        elif target and target != "value" and option.get(target) is None:
            problems.append((index, gettext("choose the %(target)s") % {
                "target": MenuOption._meta.get_field(target).verbose_name}))
        elif target == "target_menu":
            other = option["target_menu"]
            if menu.pk and other.pk == menu.pk:
                problems.append((index, gettext("a menu cannot send callers to itself (use “repeat”)")))
            elif other.site_id != menu.site_id:
                problems.append((index, gettext("menu %(menu)s is another site's") % {"menu": other}))
        elif target == "room" and option["room"].site_id != menu.site_id:
            problems.append((index, gettext("room %(room)s is another site's") % {"room": option["room"]}))
        elif target == "agi" and option["agi"].site_id not in (None, menu.site_id):
            problems.append((index, gettext("AGI application %(app)s is another site's") % {"app": option["agi"]}))
    if wanted_extensions:  # (one query for every extension of the menu)
        users = {u.extension: u for u in SipUser.objects.filter(extension__in=set(wanted_extensions.values()))
                 .only("extension", "voicemail_enabled")}
        for index, extension in wanted_extensions.items():
            user = users.get(extension)
            if user is None:
                problems.append((index, gettext("no user has extension %(ext)s") % {"ext": extension}))
            elif options[index]["action"] == MenuAction.VOICEMAIL and not user.voicemail_enabled:
                problems.append((index, gettext("extension %(ext)s has no voicemail") % {"ext": extension}))
    return sorted(problems, key=lambda p: p[0])


def hours_problems(hours: list[dict[str, Any]]) -> list[tuple[int, str]]:
    problems = []
    for index, h in enumerate(hours):
        if not 0 <= h.get("weekday", -1) <= 6:
            problems.append((index, gettext("a weekday is 0 (Monday) to 6 (Sunday)")))
        if h.get("opens") is None or h.get("closes") is None or h["opens"] >= h["closes"]:
            problems.append((index, gettext("it must open before it closes")))
    return problems


def _menu_rules(menu: IvrMenu) -> None:
    errors: dict[str, list[str]] = {}
    try:
        _application_code(menu)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    after = menu.after_hours_menu
    if after is not None and (after.pk == menu.pk and menu.pk):
        errors.setdefault("after_hours_menu", []).append(gettext("Choose another menu for after hours."))
    elif after is not None and after.site_id != menu.site_id:
        errors.setdefault("after_hours_menu", []).append(gettext("The after-hours menu must be of the same site."))
    if menu.prompt is not None and menu.prompt.site_id not in (None, menu.site_id):
        errors.setdefault("prompt", []).append(gettext("This announcement belongs to another site."))
    if errors:
        raise ValidationError(errors)


def describe_option(option: MenuOption | dict[str, Any]) -> str:
    """``1 extension 1001`` — an option as a line of the menu form's text (and of the audit log)."""
    get = option.get if isinstance(option, dict) else lambda name: getattr(option, name)
    action, target = get("action"), OPTION_TARGET.get(get("action"))
    line = f"{get('key')} {action}"
    if target == "value":
        line += f" {get('value')}"
    elif target == "target_menu":
        line += f" {get('target_menu').name}"
    elif target == "room":
        line += f" {get('room').number}"
    elif target == "service_code":
        line += f" {get('service_code').code}"
    elif target == "agi":
        line += f" {get('agi').name}"
    return line


DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


UNTIL_MIDNIGHT = datetime.time(23, 59, 59)  # (what the form stores for "24:00": a time has no 24)


def describe_hours(h: MenuHours | dict[str, Any]) -> str:
    """``mon 09:00-18:00``; "until midnight" shows as 24:00 again, so the form takes its own text back unchanged."""
    get = h.get if isinstance(h, dict) else lambda name: getattr(h, name)
    closes = "24:00" if get("closes") == UNTIL_MIDNIGHT else f"{get('closes'):%H:%M}"
    return f"{DAYS[get('weekday')]} {get('opens'):%H:%M}-{closes}"


def _menu_snapshot(menu: IvrMenu) -> dict[str, Any]:
    options = MenuOption.objects.filter(menu=menu).select_related("target_menu", "room", "service_code", "agi")
    return {"options": "; ".join(describe_option(o) for o in sorted(options, key=key_order)),
            "hours": "; ".join(describe_hours(h) for h in MenuHours.objects.filter(menu=menu))}


_SPECIAL_KEYS = {"*": 1, "#": 2, MenuKey.TIMEOUT: 3, MenuKey.INVALID: 4}


def key_order(option: MenuOption) -> tuple[int, str]:
    """Digits, then * and #, then timeout and invalid: the order people read a menu in."""
    return (_SPECIAL_KEYS.get(option.key, 0), option.key)


def _set_options(menu: IvrMenu, options: list[dict[str, Any]] | None, hours: list[dict[str, Any]] | None) -> None:
    """Replace the menu's options / open hours (None: keep them), after checking every one of them."""
    errors = {}
    if options is not None:
        found = option_problems(menu, options)
        if found:
            errors["options"] = [gettext("Key %(key)s: %(problem)s.") % {"key": options[i].get("key"), "problem": p}
                                 for i, p in found]
    if hours is not None:
        found = hours_problems(hours)
        if found:
            errors["hours"] = [gettext("%(hours)s: %(problem)s.") % {"hours": _hours_label(hours[i]), "problem": p}
                               for i, p in found]
    if errors:
        raise ValidationError(errors)
    if options is not None:
        MenuOption.objects.filter(menu=menu).delete()
        MenuOption.objects.bulk_create([MenuOption(menu=menu, key=o["key"], action=o["action"],
                                                   **{n: o.get(n) or ("" if n == "value" else None)
                                                      for n in TARGET_FIELDS}) for o in options])
    if hours is not None:
        MenuHours.objects.filter(menu=menu).delete()
        MenuHours.objects.bulk_create([MenuHours(menu=menu, weekday=h["weekday"], opens=h["opens"],
                                                 closes=h["closes"]) for h in hours])


def _hours_label(h: dict[str, Any]) -> str:
    try:
        return describe_hours(h)
    except (IndexError, TypeError, ValueError):
        return str(h.get("weekday"))


def create_ivr_menu(*, actor: Actor, options: list[dict[str, Any]] | None = None,
                    hours: list[dict[str, Any]] | None = None, **fields: Any) -> IvrMenu:
    return crud.create(IvrMenu, actor=actor, fields=fields, checks=[_menu_rules], snapshot=_menu_snapshot,
                       related=lambda menu: _set_options(menu, options or [], hours or []))


def update_ivr_menu(menu: IvrMenu, *, actor: Actor, options: list[dict[str, Any]] | None = None,
                    hours: list[dict[str, Any]] | None = None, **fields: Any) -> IvrMenu:
    return crud.update(menu, actor=actor, fields=fields, checks=[_menu_rules], snapshot=_menu_snapshot,
                       related=lambda m: _set_options(m, options, hours))


def delete_ivr_menu(menu: IvrMenu, *, actor: Actor) -> None:
    def check(m: IvrMenu) -> None:
        _no_references(m, [*_options_using(target_menu=m),
                           (IvrMenu.objects.filter(after_hours_menu=m).exclude(pk=m.pk),
                            gettext("Menu(s) %(objects)s use it after hours; change them first."))])

    crud.delete(menu, actor=actor, checks=[check], snapshot=_menu_snapshot)


# --- AGI applications and their servers ---------------------------------------------------------------------------


def describe_server(server: AgiServer | dict[str, Any]) -> str:
    get = server.get if isinstance(server, dict) else lambda name: getattr(server, name)
    host = get("host")
    line = f"[{host}]:{get('port')}" if ":" in host else f"{host}:{get('port')}"
    return line if get("enabled") in (True, None) else f"{line} disabled"


def _agi_snapshot(app: AgiApplication) -> dict[str, Any]:
    return {"servers": "; ".join(describe_server(s) for s in AgiServer.objects.filter(application=app))}


def _set_servers(app: AgiApplication, servers: list[dict[str, Any]] | None) -> None:
    if servers is not None:
        problems, seen, rows = [], set(), []
        for position, spec in enumerate(servers, start=1):
            host = spec.get("host") or ""
            if host.startswith("[") and host.endswith("]"):
                host = host[1:-1]  # (an IPv6 address is stored bare, as the form's lines give it: one spelling)
            server = AgiServer(application=app, host=host, port=spec.get("port") or 4573,
                               position=position, enabled=spec.get("enabled", True))
            try:
                server.full_clean(exclude=["application"], validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                problems += [gettext("Server %(n)s: %(problem)s") % {"n": position, "problem": m}
                             for m in exc.messages]
            if (server.host, server.port) in seen:
                problems.append(gettext("Server %(n)s: %(server)s is listed twice.") % {
                    "n": position, "server": describe_server(spec)})
            seen.add((server.host, server.port))
            rows.append(server)
        if problems:
            raise ValidationError({"servers": problems})
        AgiServer.objects.filter(application=app).delete()
        AgiServer.objects.bulk_create(rows)
    if app.enabled and not AgiServer.objects.filter(application=app, enabled=True).exists():
        raise ValidationError({"servers": [gettext("An enabled AGI application needs at least one enabled server "
                                                   "(or disable the application).")]})


def create_agi_application(*, actor: Actor, servers: list[dict[str, Any]] | None = None,
                           **fields: Any) -> AgiApplication:
    return crud.create(AgiApplication, actor=actor, fields=fields, checks=[_application_code],
                       snapshot=_agi_snapshot, related=lambda app: _set_servers(app, servers or []))


def update_agi_application(app: AgiApplication, *, actor: Actor, servers: list[dict[str, Any]] | None = None,
                           **fields: Any) -> AgiApplication:
    return crud.update(app, actor=actor, fields=fields, checks=[_application_code], snapshot=_agi_snapshot,
                       related=lambda a: _set_servers(a, servers))


def delete_agi_application(app: AgiApplication, *, actor: Actor) -> None:
    crud.delete(app, actor=actor, checks=[lambda a: _no_references(a, _options_using(agi=a))],
                snapshot=_agi_snapshot)


# --- announcements ------------------------------------------------------------------------------------------------


def _converted(upload: Any) -> dict[str, Any]:
    """An uploaded file as the fields Asterisk plays (WAV 8 kHz mono 16-bit), or a ValidationError on ``audio``.

    Validation and conversion are media/sounds.py's; this only stores what it returns (the sha256 names the
    sound in its URL, so a node never plays a cached old one).
    """
    from . import sounds

    try:
        audio, duration_ms = sounds.convert(upload)
    except ValidationError as exc:
        raise ValidationError({"audio": exc.messages}) from None
    name = getattr(upload, "name", "") or ""
    return {"audio": audio, "duration_ms": duration_ms, "sha256": hashlib.sha256(audio).hexdigest(),
            "original_name": name.rsplit("/", 1)[-1][:200]}


def create_announcement(*, actor: Actor, upload: Any, **fields: Any) -> Announcement:
    if upload is None:
        raise ValidationError({"audio": [gettext("Choose a sound file to upload.")]})
    return crud.create(Announcement, actor=actor, fields={**fields, **_converted(upload)})


def update_announcement(announcement: Announcement, *, actor: Actor, upload: Any = None,
                        **fields: Any) -> Announcement:
    """Rename, move or describe it; a new ``upload`` replaces its sound (every node fetches the new one: its
    address carries the sound's hash)."""
    if upload is not None:
        fields.update(_converted(upload))
    return crud.update(announcement, actor=actor, fields=fields)


def delete_announcement(announcement: Announcement, *, actor: Actor) -> None:
    def check(a: Announcement) -> None:
        _no_references(a, [
            (IvrMenu.objects.filter(prompt=a), gettext("Menu(s) %(objects)s play it as their prompt.")),
            (ConferenceProfile.objects.filter(join_announcement=a),
             gettext("Conference profile(s) %(objects)s play it to joining callers.")),
            (a.uses.select_related("site"), gettext("It is played for %(objects)s."))])

    crud.delete(announcement, actor=actor, checks=[check])


# --- many at once (the lists' bulk operations) --------------------------------------------------------------------

_UPDATE = {ConferenceRoom: update_conference_room, IvrMenu: update_ivr_menu, AgiApplication: update_agi_application}


def plan_bulk_enable(objs: Iterable[Any], *, enabled: bool) -> list[crud.Planned]:
    label = str(ConferenceRoom._meta.get_field("enabled").verbose_name).capitalize()
    yes_no = {True: gettext("yes"), False: gettext("no")}
    return [crud.Planned(obj=o, changes={label: (yes_no[o.enabled], yes_no[enabled])} if o.enabled != enabled
                         else {}) for o in objs]


def bulk_enable(objs: Iterable[Any], *, actor: Actor, enabled: bool) -> int:
    """Enable or disable many rooms / menus / AGI applications, all or nothing (each through its action: the
    same rules, one audit entry each)."""
    from django.db import transaction

    changed = 0
    with transaction.atomic():
        for obj in objs:
            if obj.enabled != enabled:
                _UPDATE[type(obj)](obj, actor=actor, enabled=enabled)
                changed += 1
    return changed


# --- which announcement a site plays for a purpose ----------------------------------------------------------------


def _site_announcement_rules(row: SiteAnnouncement) -> None:
    if row.announcement_id and row.announcement.site_id not in (None, row.site_id):
        raise ValidationError({"announcement": gettext("This announcement belongs to another site.")})


def create_site_announcement(*, actor: Actor, **fields: Any) -> SiteAnnouncement:
    return crud.create(SiteAnnouncement, actor=actor, fields=fields, checks=[_site_announcement_rules])


def update_site_announcement(row: SiteAnnouncement, *, actor: Actor, **fields: Any) -> SiteAnnouncement:
    return crud.update(row, actor=actor, fields=fields, checks=[_site_announcement_rules])


def delete_site_announcement(row: SiteAnnouncement, *, actor: Actor) -> None:
    crud.delete(row, actor=actor)


def set_site_announcement(*, actor: Actor, site: Any, purpose: str,
                          announcement: Announcement | None) -> SiteAnnouncement | None:
    """What ``site`` (None: the estate's default) plays for ``purpose``; None removes the choice (the site then
    plays the estate's default, and the estate the built-in sound)."""
    row = SiteAnnouncement.objects.filter(site=site, purpose=purpose).first()
    if announcement is None:
        if row is not None:
            delete_site_announcement(row, actor=actor)
        return None
    if row is None:
        return create_site_announcement(actor=actor, site=site, purpose=purpose, announcement=announcement)
    return update_site_announcement(row, actor=actor, announcement=announcement)
