from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy as _

from sites.forms import SecretFieldsMixin, SecretInput
from voipadmin.showwhen import ShowWhenMixin
from voipadmin.views import ActionFormMixin

from . import actions
from .choices import ItspAuth
from .models import E1Trunk, ItspTrunk, OutboundRoute, Trunk


#: labels of the fields whose model gives none (the model's field name would be the English label, untranslated)
COMMON_LABELS = {"name": _("Name"), "enabled": _("Enabled"), "description": _("Description")}


class E1TrunkForm(ActionFormMixin, forms.ModelForm):
    class Meta:
        model = E1Trunk
        fields = ["name", "enabled", "asterisk_node", "span", "channels", "group", "signalling", "switch_type",
                  "role", "dial_string", "description"]
        labels = {**COMMON_LABELS, "span": _("Span"), "channels": _("Channels"), "group": _("Group"),
                  "signalling": _("Signalling"), "switch_type": _("Switch type"), "role": _("Role"),
                  "dial_string": _("Dial string")}


_BY_IP = ("auth_mode", {ItspAuth.IP.value})
_BY_REGISTRATION = ("auth_mode", {ItspAuth.REGISTRATION.value})


class ItspTrunkForm(ShowWhenMixin, SecretFieldsMixin, ActionFormMixin, forms.ModelForm):
    """By IP: the addresses and their Kamailio group; by registration: the account Kamailio registers with.
    The other mode's fields are hidden and saved empty (a trunk switched to IP keeps no stale password)."""

    secret_fields = ("auth_password",)
    show_when = {"ip_addresses": _BY_IP, "address_group": _BY_IP,
                 **{name: _BY_REGISTRATION for name in ("username", "auth_username", "auth_password", "realm",
                                                         "proxy", "expires")}}

    class Meta:
        model = ItspTrunk
        fields = ["name", "enabled", "host", "port", "transport", "auth_mode", "ip_addresses", "address_group",
                  "username", "auth_username", "auth_password", "realm", "proxy", "expires",
                  "caller_id_presentation", "caller_id_number", "description"]
        widgets = {"auth_password": SecretInput(), "ip_addresses": forms.Textarea(attrs={"rows": 3})}
        labels = {**COMMON_LABELS, "host": _("Host"), "port": _("Port"), "transport": _("Transport"),
                  "auth_mode": _("Auth mode"), "address_group": _("Address group"), "username": _("Username"),
                  "auth_username": _("Auth username"), "auth_password": _("Auth password"), "realm": _("Realm"),
                  "proxy": _("Proxy"), "expires": _("Expires")}

    def clean_auth_password(self):
        # blank means "keep the stored one" -- also for the model's own validation of the instance
        return self.cleaned_data.get("auth_password") or (self.instance.auth_password if self.instance.pk else "")

    def action_fields(self):
        fields = super().action_fields()
        for name in self.not_applying():  # cleared, even the secret that blank would otherwise keep
            fields[name] = self.cleaned_data[name]
        return fields


class OrderedTrunksWidget(forms.Widget):
    """The route's trunks in order: one row per trunk (a select, ↑/↓, remove, a drag handle) and an empty row to
    add one. Each row's select posts ``trunks`` (a trunk id), so the order of the rows is the order posted;
    static/js/ordered-picker.js adds drag-and-drop and the buttons. Without JS each row's select still works
    (change a position, pick a trunk in the empty row to add it)."""

    template_name = "trunks/widgets/ordered_trunks.html"

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices: list[tuple[int, str]] = []

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)

    def value_omitted_from_data(self, data, files, name):
        return name not in data

    def render(self, name, value, attrs=None, renderer=None):
        from django.template.loader import render_to_string
        from django.utils.safestring import mark_safe

        # (the project's template directory, not the form renderer's: no FORM_RENDERER setting needed)
        return mark_safe(render_to_string(self.template_name, self.get_context(name, value, attrs)))

    def get_context(self, name, value, attrs):
        ctx = super().get_context(name, value, attrs)
        chosen = [str(v.pk if isinstance(v, Trunk) else v) for v in (value or []) if str(v).strip()]
        ctx["widget"].update(choices=[(str(pk), label) for pk, label in self.choices], chosen=chosen)
        return ctx


class OrderedTrunksField(forms.Field):
    """Trunk ids in the order they are tried → the Trunk objects in that order."""

    widget = OrderedTrunksWidget

    def to_python(self, value):
        ids = [v.strip() for v in (value or []) if v and v.strip()]
        if any(not (v.isascii() and v.isdigit()) or len(v) > 12 for v in ids):
            raise ValidationError(gettext("Pick trunks from the list."))
        ids = [int(v) for v in ids]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        found = {t.pk: t for t in Trunk.objects.filter(pk__in=ids)}
        if dupes:
            raise ValidationError(gettext("Trunk(s) listed twice: %(trunks)s.") % {
                "trunks": ", ".join(found[i].name for i in dupes if i in found)})
        if any(i not in found for i in ids):
            raise ValidationError(gettext("A chosen trunk no longer exists; pick again."))
        return [found[i] for i in ids]


class OutboundRouteForm(ActionFormMixin, forms.ModelForm):
    trunks = OrderedTrunksField(
        label=_("Trunks"), required=False,
        help_text=_("In the order they are tried (e.g. the ITSP, then the E1): drag a trunk, or use ↑ ↓."))
    #: the same as names, one per line (scripts and older clients post this; used when no ``trunks`` are posted)
    trunk_order = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = OutboundRoute
        fields = ["name", "kind", "enabled", "pattern", "priority", "strip", "prepend", "description"]
        labels = {**COMMON_LABELS, "kind": _("Kind"), "pattern": _("Pattern"), "priority": _("Priority"),
                  "strip": _("Strip"), "prepend": _("Prepend")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trunks"].widget.choices = [(t.pk, f"{t.name} ({t.get_kind_display()})")
                                                for t in Trunk.objects.order_by("name")]
        if self.instance.pk and not self.is_bound:
            self.initial["trunks"] = [link.trunk_id for link in self.instance.route_trunks.all()]

    def clean(self):
        cleaned = super().clean()
        trunks = cleaned.get("trunks") or []
        if "trunks" in self.errors:
            return cleaned
        if not trunks and (self.data.get("trunk_order") or "").strip():
            try:
                trunks = actions.parse_trunk_names(self.data["trunk_order"])
            except ValidationError as exc:
                self.add_error("trunks", exc.messages)
                return cleaned
        if not trunks:
            self.add_error("trunks", gettext("A route needs at least one trunk."))
        cleaned["trunks"] = trunks
        return cleaned

    def action_fields(self):
        return {**super().action_fields(), "trunks": self.cleaned_data["trunks"]}
