"""The account forms: what an estate administrator types (create, edit) and what every account sets for itself."""
from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sites.models import Site
from voipadmin.roles import ADMINISTRATOR, BILLING, HELPDESK, ROLES

from .actions import profile_of, role_of

#: the roles as the pages name them (the groups' names are data, the same in every language)
ROLE_LABELS = {ADMINISTRATOR: _("Administrator"), HELPDESK: _("Helpdesk"), BILLING: _("Billing")}
ESTATE, SITES = "estate", "sites"


@lru_cache(maxsize=1)
def time_zone_choices() -> list[tuple[str, str]]:
    return sorted((z, z) for z in zoneinfo.available_timezones())


def language_field() -> forms.ChoiceField:
    return forms.ChoiceField(label=_("Language"), required=False,
                             choices=[("", _("The browser's language")), *settings.LANGUAGES])


def time_zone_field() -> forms.ChoiceField:
    return forms.ChoiceField(label=_("Time zone"), required=False,
                             choices=[("", _("The site's time zone, else the portal's")), *time_zone_choices()])


class AccountForm(forms.Form):
    """Create (``instance`` None: username and password too) or edit an account."""

    username = forms.CharField(label=_("Username"), max_length=150,
                               help_text=_("Letters, digits and @ . + - _ only."))
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=[(r, ROLE_LABELS[r]) for r in ROLES],
                             help_text=_("Administrator: everything. Helpdesk: finds users and resets voicemail "
                                         "PINs. Billing: reads, mostly through the API."))
    scope = forms.ChoiceField(label=_("Scope"), widget=forms.RadioSelect, initial=ESTATE,
                              choices=[(ESTATE, _("Whole estate")), (SITES, _("Only the sites below"))],
                              help_text=_("A site-limited account sees and changes only its sites' users, nodes, "
                                          "trunks, numbers and call records."))
    sites = forms.ModelMultipleChoiceField(label=_("Sites"), queryset=Site.objects.none(), required=False,
                                           widget=forms.CheckboxSelectMultiple)
    language = language_field()
    time_zone = time_zone_field()
    password = forms.CharField(
        label=_("Password"), required=False, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to generate one; it is shown once, after saving."))

    def __init__(self, data=None, instance=None, **kwargs):
        super().__init__(data, **kwargs)
        self.instance = instance
        self.fields["sites"].queryset = Site.objects.order_by("name")
        if instance is not None:
            del self.fields["username"], self.fields["password"]
            if not self.is_bound:
                self.initial.update(_initial(instance))

    def clean(self):
        data = super().clean()
        if data.get("scope") == SITES and not data.get("sites") and "sites" not in self.errors:
            self.add_error("sites", _("A site-limited account needs at least one site."))
        return data

    def action_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = {name: data[name] for name in ("first_name", "last_name", "email", "role", "language", "time_zone")}
        fields |= {"site_limited": data["scope"] == SITES, "sites": list(data["sites"] or [])}
        if self.instance is None:
            fields |= {"username": data["username"], "password": data["password"]}
        return fields


def _initial(user) -> dict[str, Any]:
    profile = profile_of(user)
    limited = bool(profile and profile.site_limited)
    return {"first_name": user.first_name, "last_name": user.last_name, "email": user.email,
            "role": role_of(user), "scope": SITES if limited else ESTATE,
            "sites": list(profile.sites.all()) if limited else [],
            "language": profile.language if profile else "", "time_zone": profile.time_zone if profile else ""}


class PreferencesForm(forms.Form):
    """What every account chooses for itself on "My account"."""

    language = language_field()
    time_zone = time_zone_field()

    def __init__(self, data=None, user=None, **kwargs):
        super().__init__(data, **kwargs)
        profile = profile_of(user) if user is not None else None
        if profile is not None and not self.is_bound:
            self.initial.update(language=profile.language, time_zone=profile.time_zone)

