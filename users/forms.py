from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from voipadmin.views import ActionFormMixin

from . import validators
from .models import SipUser

USER_FIELDS = ["extension", "name", "email", "site", "enabled", "caller_id", "nat", "codecs",
               "voicemail_enabled", "voicemail_email"]


class SipUserForm(ActionFormMixin, forms.ModelForm):
    """Create and edit. On create, an empty password/PIN is generated and shown once after saving;
    on edit, secrets change only through the reset pages."""

    password = forms.CharField(
        required=False, strip=False, label=_("SIP password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "placeholder": _("generated")}),
        help_text=format_lazy(_("Leave empty to generate one ({length} random characters). At least {min} characters."),
                              length=validators.PASSWORD_LENGTH, min=validators.PASSWORD_MIN))
    voicemail_pin = forms.CharField(
        required=False, label=_("Voicemail PIN"), widget=forms.PasswordInput(attrs={"autocomplete": "off",
                                                                                     "placeholder": _("generated")}),
        help_text=_("4–10 digits; leave empty to generate one."))

    class Meta:
        model = SipUser
        fields = USER_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["password"]
            del self.fields["voicemail_pin"]

    def clean_password(self):
        value = self.cleaned_data.get("password") or ""
        if value and (problem := validators.password_problem(value)):
            raise ValidationError(problem)
        return value

    def clean(self):
        data = super().clean()
        pin = data.get("voicemail_pin")
        if pin and (problem := validators.pin_problem(pin, data.get("extension"))):
            self.add_error("voicemail_pin", problem)
        return data

    def action_fields(self):
        fields = super().action_fields()
        if "password" in self.fields:
            fields["password"] = self.cleaned_data.get("password") or None
            fields["voicemail_pin"] = self.cleaned_data.get("voicemail_pin") or ""
        return fields


class VoicemailPinForm(forms.Form):
    pin = forms.CharField(required=False, label=_("New PIN"), max_length=10,
                          widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
                          help_text=_("4–10 digits, not one repeated digit, not a run like 1234 or 4321, not the "
                                      "extension. Leave empty to generate one."))


class ImportUploadForm(forms.Form):
    # (the column names are the file's interface: they stay as they are in every language)
    file = forms.FileField(label=_("CSV file"), help_text=format_lazy(
        _("Columns: {columns}"), columns="extension,name,email,site[,password,voicemail_pin,enabled,voicemail,"
                                         "voicemail_email,caller_id,nat,codecs]"))
