"""Phone users of the estate (SIP accounts), distinct from the portal's own logins."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

DEFAULT_CODECS = "alaw,ulaw,g722"


class SipUser(models.Model):
    """One extension of the estate: a SIP account on Kamailio and an endpoint/mailbox on its site's Asterisk.

    The SIP password is never stored: only the digest hashes Kamailio and Asterisk authenticate with.
    ``ha1``/``ha1b`` depend on the extension and the site's SIP domain, so changing either needs a new
    password (``actions.update_user`` issues one). Kamailio's ``subscriber`` row and the Asterisk realtime
    views are projections of this row, kept in step by ``users.actions``.
    """

    extension = models.PositiveIntegerField(
        unique=True, validators=[MinValueValidator(1), MaxValueValidator(9_999_999_999)],
        help_text="Unique across the estate and inside one of the home site's extension ranges.")
    name = models.CharField("display name", max_length=80)
    email = models.EmailField(max_length=80, blank=True)
    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="sip_users",
                             verbose_name="home site")
    enabled = models.BooleanField(default=True, help_text="A disabled user cannot register or call.")
    caller_id = models.CharField(max_length=40, blank=True,
                                 help_text='Defaults to "display name" <extension>.')
    nat = models.BooleanField("behind NAT", default=False,
                              help_text="Remote extension: symmetric RTP, rport, contact rewrite, no direct media.")
    codecs = models.CharField(max_length=200, blank=True,
                              help_text=f"Comma-separated Asterisk codec names; empty means {DEFAULT_CODECS}.")
    ha1 = models.CharField(max_length=32, editable=False)
    ha1b = models.CharField(max_length=32, editable=False)
    voicemail_enabled = models.BooleanField("voicemail", default=True)
    voicemail_pin = models.CharField("voicemail PIN", max_length=80, blank=True,
                                     help_text="Stored in clear: Asterisk's realtime voicemail needs it.")
    voicemail_email = models.EmailField("voicemail notification email", max_length=80, blank=True,
                                        help_text="Where new messages are notified; empty means the user's email.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    audit_secret_fields = ("ha1", "ha1b", "voicemail_pin")

    class Meta:
        ordering = ["extension"]
        verbose_name = "user"
        verbose_name_plural = "users"
        permissions = [("reset_voicemail_pin", "Can reset a voicemail PIN")]
        indexes = [models.Index(fields=["name"], name="users_sipuser_name_idx")]

    def __str__(self) -> str:
        return f"{self.extension} {self.name}"

    def clean(self) -> None:
        """The extension must lie in one of the home site's ranges (uniqueness is the DB's job); the codecs
        must be codec names, since they go verbatim into Asterisk's ``ps_endpoints.allow``."""
        from .validators import codecs_problem

        errors = {}
        if problem := codecs_problem(self.codecs):
            errors["codecs"] = problem
        if self.extension and self.site_id and not self.site.owns_extension(self.extension):
            ranges = ", ".join(str(r) for r in self.site.extension_ranges.all()) or "none"
            errors["extension"] = f"{self.extension} is outside {self.site}'s extension ranges ({ranges})."
        if errors:
            raise ValidationError(errors)

    def get_absolute_url(self) -> str:
        return reverse("users:sipuser_detail", args=[self.pk])

    @property
    def username(self) -> str:
        """SIP user part (Kamailio ``subscriber.username``, Asterisk endpoint id)."""
        return str(self.extension)

    @property
    def sip_domain(self) -> str:
        return self.site.sip_domain

    @property
    def aor(self) -> str:
        return f"{self.extension}@{self.site.sip_domain}"

    @property
    def mailbox(self) -> str:
        """Asterisk mailbox spec ``<ext>@<voicemail context>`` (context = site slug)."""
        return f"{self.extension}@{self.site.slug}"

    @property
    def effective_caller_id(self) -> str:
        return self.caller_id or f'"{self.name}" <{self.extension}>'

    @property
    def effective_codecs(self) -> str:
        return self.codecs or DEFAULT_CODECS
