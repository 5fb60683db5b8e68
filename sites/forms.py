from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy as _

from voipadmin import grammar
from voipadmin.fields import UNDECRYPTABLE, is_undecryptable
from voipadmin.views import ActionFormMixin

from . import actions
from .choices import NodeRole
from .models import AsteriskNode, KamailioNode, Site


class SiteForm(ActionFormMixin, forms.ModelForm):
    extension_ranges = forms.CharField(
        required=False, label=_("Extension ranges"), help_text=_("Comma-separated blocks, e.g. 1000-3999, 5000-5099."))

    class Meta:
        model = Site
        fields = ["name", "slug", "kind", "sip_domain", "address", "time_zone", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["extension_ranges"] = actions.format_ranges(self.instance)

    def clean_extension_ranges(self):
        try:
            return actions.parse_ranges(self.cleaned_data["extension_ranges"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def action_fields(self):
        fields = super().action_fields()
        fields["ranges"] = self.cleaned_data["extension_ranges"]
        return fields


class FullURLField(forms.URLField):
    """A URL as typed, scheme included: Django's URLField would turn ``pbx:8088/ari`` into a guessed
    ``https://pbx:8088/ari`` (Asterisk's HTTP server is plain HTTP unless told otherwise); this one asks."""

    def __init__(self, **kwargs):
        super().__init__(**{**kwargs, "assume_scheme": "https"})  # never applied: to_python refuses first

    def to_python(self, value):
        text = forms.CharField.to_python(self, value)
        if text:
            grammar.validate_http_url(text)
        return super().to_python(text)


class SecretInput(forms.PasswordInput):
    """Never renders the stored secret; an empty submit keeps it."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", "placeholder": _("unchanged"), **(attrs or {})},
                         render_value=False)


class SecretFieldsMixin:
    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            if name in self.fields and is_undecryptable(getattr(self.instance, name, None)):
                field = self.fields[name]
                field.widget.attrs["placeholder"] = UNDECRYPTABLE
                field.help_text = (gettext("The stored one %(state)s: the portal's keys changed since it was saved.")
                                   % {"state": UNDECRYPTABLE} + f" {field.help_text}").strip()

    def action_fields(self):
        fields = super().action_fields()
        for name in self.secret_fields:
            if not fields.get(name) and self.instance.pk:
                fields.pop(name, None)  # blank means "keep the stored secret"
        return fields


class AsteriskNodeForm(SecretFieldsMixin, ActionFormMixin, forms.ModelForm):
    secret_fields = ("ami_secret", "ari_password")
    roles = forms.MultipleChoiceField(choices=NodeRole.choices, required=False, label=_("Roles"),
                                      widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = AsteriskNode
        fields = ["name", "site", "enabled", "host", "sip_port", "roles", "ami_host", "ami_port", "ami_username",
                  "ami_secret", "ari_url", "ari_username", "ari_password", "notes"]
        widgets = {"ami_secret": SecretInput(), "ari_password": SecretInput(),
                   "notes": forms.Textarea(attrs={"rows": 3})}
        field_classes = {"ari_url": FullURLField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["roles"] = self.instance.role_list

    def clean_roles(self):
        return ",".join(r for r in NodeRole.values if r in self.cleaned_data["roles"])


class KamailioNodeForm(SecretFieldsMixin, ActionFormMixin, forms.ModelForm):
    secret_fields = ("jsonrpc_password",)

    class Meta:
        model = KamailioNode
        fields = ["name", "enabled", "sip_address", "jsonrpc_url", "jsonrpc_username", "jsonrpc_password", "notes"]
        widgets = {"jsonrpc_password": SecretInput(), "notes": forms.Textarea(attrs={"rows": 3})}
        field_classes = {"jsonrpc_url": FullURLField}
