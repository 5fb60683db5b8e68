from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy as _

from voipadmin.views import ActionFormMixin

from . import blf, validators
from .models import MAX_MONITORED_EXTENSIONS, SipUser

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
    monitored_extensions = forms.CharField(
        required=False, strip=False, label=_("BLF keys"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "4003\n4004", "spellcheck": "false"}),
        help_text=format_lazy(_("Extensions whose state this user's phone shows, one per line in button order "
                                "(line 1 is key 1); an optional label after a comma, e.g. “4004, Sales”. "
                                "Any extension of the estate, at most {max}."), max=MAX_MONITORED_EXTENSIONS))

    class Meta:
        model = SipUser
        fields = USER_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["password"]
            del self.fields["voicemail_pin"]
            if not self.is_bound:
                self.initial["monitored_extensions"] = blf.format_lines(blf.stored(self.instance))

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
        self._clean_keys(data)
        return data

    def _clean_keys(self, data) -> None:
        """Every problem of the keys at once, each naming its line of the text."""
        keys, lines, errors = blf.parse_lines(data.get("monitored_extensions", ""))
        own = data.get("extension") or self.instance.extension
        for index, problem in blf.problems(keys, own_extension=own):
            errors.append(gettext("Line %(line)d: %(problem)s.") % {"line": lines[index], "problem": problem}
                          if index >= 0 else problem[:1].upper() + problem[1:] + ".")
        if errors:
            self.add_error("monitored_extensions", errors)
        else:
            data["monitored_extensions"] = keys

    def action_fields(self):
        fields = super().action_fields()
        if "password" in self.fields:
            fields["password"] = self.cleaned_data.get("password") or None
            fields["voicemail_pin"] = self.cleaned_data.get("voicemail_pin") or ""
        fields["monitored_extensions"] = self.cleaned_data.get("monitored_extensions") or []
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
                                         "voicemail_email,caller_id,nat,codecs,blf]"))
