from django import forms
from django.core.exceptions import ValidationError

from sites.forms import SecretFieldsMixin, SecretInput
from voipadmin.views import ActionFormMixin

from . import actions
from .models import E1Trunk, ItspTrunk, OutboundRoute


class E1TrunkForm(ActionFormMixin, forms.ModelForm):
    class Meta:
        model = E1Trunk
        fields = ["name", "enabled", "asterisk_node", "span", "channels", "group", "signalling", "switch_type",
                  "role", "dial_string", "description"]


class ItspTrunkForm(SecretFieldsMixin, ActionFormMixin, forms.ModelForm):
    secret_fields = ("auth_password",)

    class Meta:
        model = ItspTrunk
        fields = ["name", "enabled", "host", "port", "transport", "auth_mode", "ip_addresses", "address_group",
                  "username", "auth_username", "auth_password", "realm", "proxy", "expires",
                  "caller_id_presentation", "caller_id_number", "description"]
        widgets = {"auth_password": SecretInput(), "ip_addresses": forms.Textarea(attrs={"rows": 3})}

    def clean_auth_password(self):
        # blank means "keep the stored one" -- also for the model's own validation of the instance
        return self.cleaned_data.get("auth_password") or (self.instance.auth_password if self.instance.pk else "")


class OutboundRouteForm(ActionFormMixin, forms.ModelForm):
    trunk_order = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Trunks",
        help_text="Trunk names, one per line, in the order they are tried (e.g. the ITSP, then the E1).")

    class Meta:
        model = OutboundRoute
        fields = ["name", "kind", "enabled", "pattern", "priority", "strip", "prepend", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["trunk_order"] = actions.format_trunks(self.instance)

    def clean_trunk_order(self):
        try:
            trunks = actions.parse_trunk_names(self.cleaned_data["trunk_order"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        if not trunks:
            raise ValidationError("A route needs at least one trunk.")
        return trunks

    def action_fields(self):
        return {**super().action_fields(), "trunks": self.cleaned_data["trunk_order"]}
