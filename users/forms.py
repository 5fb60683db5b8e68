from django import forms
from django.core.exceptions import ValidationError

from voipadmin.views import ActionFormMixin

from . import validators
from .models import SipUser

USER_FIELDS = ["extension", "name", "email", "site", "enabled", "caller_id", "nat", "codecs",
               "voicemail_enabled", "voicemail_email"]


class SipUserForm(ActionFormMixin, forms.ModelForm):
    """Create and edit. On create, an empty password/PIN is generated and shown once after saving;
    on edit, secrets change only through the reset pages."""

    password = forms.CharField(
        required=False, strip=False, label="SIP password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "placeholder": "generated"}),
        help_text=f"Leave empty to generate one ({validators.PASSWORD_LENGTH} random characters). "
                  f"At least {validators.PASSWORD_MIN} characters.")
    voicemail_pin = forms.CharField(
        required=False, label="Voicemail PIN", widget=forms.PasswordInput(attrs={"autocomplete": "off",
                                                                                  "placeholder": "generated"}),
        help_text="4–10 digits; leave empty to generate one.")

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
    pin = forms.CharField(required=False, label="New PIN", max_length=10,
                          widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
                          help_text="4–10 digits, not one repeated digit, not a run like 1234 or 4321, not the "
                                    "extension. Leave empty to generate one.")


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="Columns: extension,name,email,site[,password,"
                                                      "voicemail_pin,enabled,voicemail,voicemail_email,"
                                                      "caller_id,nat,codecs]")
