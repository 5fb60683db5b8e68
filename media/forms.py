"""Forms of the media pages. A menu's options and open hours and an AGI application's servers are edited as lines
of text (like a user's BLF keys): quick to type and paste, every problem named by its line, nothing lost."""
from __future__ import annotations

import datetime
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy as _

from services.choices import ServiceKind
from services.models import ServiceCode
from voipadmin.views import ActionFormMixin

from . import actions
from .models import (AgiApplication, Announcement, ConferenceProfile, ConferenceRoom, IvrMenu, MenuAction,
                     MenuHours, MenuOption, SiteAnnouncement)

LINES = {"rows": 6, "spellcheck": "false", "class": "font-monospace"}


def _line_errors(problems: list[tuple[int, str]], lines: list[int]) -> list[str]:
    return [gettext("Line %(line)d: %(problem)s.") % {"line": lines[index], "problem": problem}
            for index, problem in problems]


def _lines(text: str, *, hash_key: bool = False):
    """(line number, text) of every line that says something (blank lines and ``# comments`` skipped).

    ``hash_key`` (a menu's options): "#" is a key too, so ``# repeat`` is an option (a comment is a "#" line
    whose next word is no action), and a "#" further on is part of a name (menu "Sales #2"), not a comment.
    """
    for number, line in enumerate((text or "").splitlines(), start=1):
        words = line.split(maxsplit=2)
        if not hash_key:
            line = line.split("#", 1)[0]
        elif words and words[0].startswith("#") and (words[0] != "#" or len(words) < 2
                                                     or _action(words[1]) not in MenuAction.values):
            line = ""
        if line.strip():
            yield number, line.strip()


def _application_codes(field) -> None:
    field.queryset = ServiceCode.objects.filter(kind=ServiceKind.APPLICATION).order_by("code")
    field.help_text = _("A service code of kind “Application” (Services → Service codes) that reaches it directly.")


class SiteRequiredMixin:
    """A delegation's administrator creates objects of its own sites, never estate-wide ones."""

    def require_site(self) -> None:
        if "site" in self.fields:
            self.fields["site"].required = True
            self.fields["site"].empty_label = None


# --- option lines: "<key> <action> [target]" ----------------------------------------------------------------------

ACTION_ALIASES = {"ext": MenuAction.EXTENSION, "code": MenuAction.SERVICE_CODE, "vm": MenuAction.VOICEMAIL,
                  "conference": MenuAction.ROOM}


def _action(name: str) -> str:
    return ACTION_ALIASES.get(name.lower(), name.lower())


def parse_options(text: str, site) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    """The options of a menu of ``site`` from its lines: (options, their line numbers, errors by line).

    A target is named as people know it: a room by its number, a menu or AGI application by its name, a service
    code by its code, an extension or external number by its digits.
    """
    options, numbers, errors = [], [], []
    for number, line in _lines(text, hash_key=True):
        key, _sep, rest = line.partition(" ")
        action_name, _sep, target = rest.strip().partition(" ")
        action = _action(action_name)
        target = target.strip()
        if action not in MenuAction.values:
            errors.append(gettext("Line %(line)d: “%(action)s” is not an action (use %(actions)s).") % {
                "line": number, "action": action_name, "actions": ", ".join(MenuAction.values)})
            continue
        option: dict[str, Any] = {"key": key.lower() if key.isalpha() else key, "action": action}
        wanted = actions.OPTION_TARGET[action]
        found = None
        if wanted == "value":
            option["value"] = target.replace(" ", "")
        elif wanted and target:
            lookups = {"target_menu": lambda: IvrMenu.objects.filter(site=site, name=target).first(),
                       "room": lambda: ConferenceRoom.objects.filter(site=site, number=target).first(),
                       "service_code": lambda: ServiceCode.objects.filter(code=target).first(),
                       "agi": lambda: AgiApplication.objects.filter(name=target).first()}
            if site is None and wanted in ("target_menu", "room"):
                continue  # (no site chosen: the form says so; nothing to look the target up in)
            found = lookups[wanted]()
            if found is None:
                errors.append(gettext("Line %(line)d: no %(what)s “%(name)s”%(where)s.") % {
                    "line": number, "what": MenuOption._meta.get_field(wanted).verbose_name, "name": target,
                    "where": gettext(" on site %(site)s") % {"site": site} if wanted in ("target_menu", "room")
                    else ""})
                continue
            option[wanted] = found
        elif target:
            errors.append(gettext("Line %(line)d: “%(action)s” takes nothing after it.") % {
                "line": number, "action": action})
            continue
        options.append(option)
        numbers.append(number)
    return options, numbers, errors


# --- open hours: "mon-fri 09:00-18:00" ----------------------------------------------------------------------------

DAY_NAMES = {**{d: i for i, d in enumerate(actions.DAYS)},
             **{d: i for i, d in enumerate(["lun", "mar", "mie", "jue", "vie", "sab", "dom"])},
             "mié": 2, "sáb": 5, **{str(i): i for i in range(7)}}
HOURS_LINE = re.compile(r"^(?P<days>\S+)\s+(?P<opens>\d{1,2}:\d{2})\s*-\s*(?P<closes>\d{1,2}:\d{2})$")


def _days(spec: str) -> list[int] | None:
    days: list[int] = []
    for part in spec.lower().split(","):
        first, sep, last = part.partition("-")
        if first not in DAY_NAMES or sep and last not in DAY_NAMES:
            return None
        start, end = DAY_NAMES[first], DAY_NAMES[last] if sep else DAY_NAMES[first]
        if end < start:
            return None
        days.extend(range(start, end + 1))
    return days


def _time(text: str) -> datetime.time | None:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours == 24 and minutes == 0:
        return actions.UNTIL_MIDNIGHT
    if hours > 23 or minutes > 59:
        return None
    return datetime.time(hours, minutes)


def parse_hours(text: str) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    hours, numbers, errors = [], [], []
    for number, line in _lines(text):
        match = HOURS_LINE.match(line)
        days = _days(match["days"]) if match else None
        opens, closes = (_time(match["opens"]), _time(match["closes"])) if match else (None, None)
        if not match or days is None or opens is None or closes is None:
            errors.append(gettext("Line %(line)d: write days and times like “mon-fri 09:00-18:00”.") % {
                "line": number})
            continue
        for day in days:
            hours.append({"weekday": day, "opens": opens, "closes": closes})
            numbers.append(number)
    return hours, numbers, errors


def format_hours(menu: IvrMenu) -> str:
    return "\n".join(actions.describe_hours(h) for h in MenuHours.objects.filter(menu=menu))


def format_options(menu: IvrMenu) -> str:
    options = menu.options.select_related("target_menu", "room", "service_code", "agi")
    return "\n".join(actions.describe_option(o) for o in sorted(options, key=actions.key_order))


# --- AGI servers: "host[:port] [disabled]" ------------------------------------------------------------------------

SERVER_LINE = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:\[\]]+))(?::(?P<port>\d{1,5}))?"
                         r"(?:\s+(?P<disabled>disabled|off))?$", re.IGNORECASE)


def parse_servers(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    servers, errors = [], []
    for number, line in _lines(text):
        match = SERVER_LINE.match(line)
        if not match:
            errors.append(gettext("Line %(line)d: write a server as host:port, e.g. agi.example.test:4573 "
                                  "(add “disabled” to keep it listed but unused).") % {"line": number})
            continue
        servers.append({"host": match["v6"] or match["host"], "port": int(match["port"] or 4573),
                        "enabled": not match["disabled"]})
    return servers, errors


# --- the forms ----------------------------------------------------------------------------------------------------


def _sounds(field) -> None:
    """Announcements to pick from, without their audio (megabytes each)."""
    field.queryset = Announcement.objects.defer("audio")


class ConferenceProfileForm(ActionFormMixin, forms.ModelForm):
    class Meta:
        model = ConferenceProfile
        fields = ["name", "site_default", "max_members", "announce_join_leave", "announce_only_member", "record",
                  "join_announcement", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _sounds(self.fields["join_announcement"])


class ConferenceRoomForm(SiteRequiredMixin, ActionFormMixin, forms.ModelForm):
    class Meta:
        model = ConferenceRoom
        fields = ["site", "number", "name", "pin", "profile", "service_code", "enabled", "description"]
        widgets = {"pin": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _application_codes(self.fields["service_code"])


class IvrMenuForm(SiteRequiredMixin, ActionFormMixin, forms.ModelForm):
    option_lines = forms.CharField(
        required=False, strip=False, label=_("Options"),
        widget=forms.Textarea(attrs={**LINES, "placeholder": "1 extension 1001\n2 room 800\n0 extension 1000\n"
                                                             "timeout repeat\ninvalid repeat"}),
        help_text=_("One key per line: the key (0-9, *, #, or timeout / invalid), the action, then its target. "
                    "Actions: extension <number>, voicemail <extension>, number <external number>, room <room "
                    "number>, menu <menu name>, service_code <code>, agi <application name>, repeat, hangup. "
                    "Rooms and menus are the menu's site's."))
    hours_lines = forms.CharField(
        required=False, strip=False, label=_("Open hours"),
        widget=forms.Textarea(attrs={**LINES, "rows": 3, "placeholder": "mon-fri 09:00-18:00\nsat 10:00-14:00"}),
        help_text=_("When the menu is open, in the site's time zone: days (mon … sun, or lun … dom, ranges with -, "
                    "lists with ,) and a time range, one per line. Empty: always open. Outside them callers get the "
                    "after-hours menu."))

    class Meta:
        model = IvrMenu
        fields = ["site", "name", "prompt", "prompt_sound", "timeout", "attempts", "after_hours_menu",
                  "service_code", "enabled", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _application_codes(self.fields["service_code"])
        _sounds(self.fields["prompt"])
        self.fields["after_hours_menu"].queryset = IvrMenu.objects.select_related("site").order_by("site", "name")
        self.fields["after_hours_menu"].label_from_instance = lambda m: f"{m.name} ({m.site})"
        if self.instance.pk:
            self.fields["after_hours_menu"].queryset = self.fields["after_hours_menu"].queryset.exclude(
                pk=self.instance.pk)
            if not self.is_bound:
                self.initial["option_lines"] = format_options(self.instance)
                self.initial["hours_lines"] = format_hours(self.instance)

    def clean(self):
        data = super().clean()
        site = data.get("site")
        options, numbers, errors = parse_options(data.get("option_lines", ""), site)
        if site is not None:
            probe = IvrMenu(pk=self.instance.pk, site=site)
            errors += _line_errors(actions.option_problems(probe, options), numbers)
        if errors:
            self.add_error("option_lines", errors)
        data["options"] = options
        hours, hour_numbers, hour_errors = parse_hours(data.get("hours_lines", ""))
        hour_errors += _line_errors(actions.hours_problems(hours), hour_numbers)
        if hour_errors:
            self.add_error("hours_lines", sorted(set(hour_errors), key=hour_errors.index))
        data["hours"] = hours
        return data

    def action_fields(self):
        return {**super().action_fields(), "options": self.cleaned_data["options"],
                "hours": self.cleaned_data["hours"]}


class AgiApplicationForm(SiteRequiredMixin, ActionFormMixin, forms.ModelForm):
    server_lines = forms.CharField(
        required=False, strip=False, label=_("Servers"),
        widget=forms.Textarea(attrs={**LINES, "rows": 3, "placeholder": "127.0.0.1:4573\n127.0.0.1:4574"}),
        help_text=_("FastAGI servers, one host:port per line (port 4573 when left out), in the order they are "
                    "tried; add “disabled” after one to keep it but send it nothing."))

    class Meta:
        model = AgiApplication
        fields = ["name", "site", "app_type", "app_id", "script", "strategy", "service_code", "enabled",
                  "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _application_codes(self.fields["service_code"])
        if self.instance.pk and not self.is_bound:
            self.initial["server_lines"] = "\n".join(actions.describe_server(s) for s in self.instance.servers.all())

    def clean_server_lines(self):
        servers, errors = parse_servers(self.cleaned_data["server_lines"])
        if errors:
            raise ValidationError(errors)
        return servers

    def action_fields(self):
        return {**super().action_fields(), "servers": self.cleaned_data["server_lines"]}


class AnnouncementForm(SiteRequiredMixin, ActionFormMixin, forms.ModelForm):
    audio = forms.FileField(
        required=False, label=_("Sound file"),
        help_text=_("WAV, or another format the portal can read; converted to what Asterisk plays (8 kHz mono). "
                    "On an existing announcement, leave empty to keep its sound."))

    class Meta:
        model = Announcement
        fields = ["name", "site", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["audio"].required = True

    def action_fields(self):
        return {**super().action_fields(), "upload": self.cleaned_data.get("audio")}


class SiteAnnouncementForm(SiteRequiredMixin, ActionFormMixin, forms.ModelForm):
    class Meta:
        model = SiteAnnouncement
        fields = ["site", "purpose", "announcement"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _sounds(self.fields["announcement"])
