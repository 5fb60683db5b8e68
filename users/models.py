"""Phone users of the estate (SIP accounts), distinct from the portal's own logins."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy as _

from voipadmin import grammar
from voipadmin.paths import object_url

from .validators import validate_codecs, validate_pin_digits

DEFAULT_CODECS = "alaw,ulaw,g722"


class SipUser(models.Model):
    """One extension of the estate: a SIP account on Kamailio and an endpoint/mailbox on its site's Asterisk.

    The SIP password is never stored: only the digest hashes Kamailio and Asterisk authenticate with.
    ``ha1``/``ha1b`` depend on the extension and the site's SIP domain, so changing either needs a new
    password (``actions.update_user`` issues one). Kamailio's ``subscriber`` row and the Asterisk realtime
    views are projections of this row, kept in step by ``users.actions``.
    """

    extension = models.PositiveIntegerField(
        _("extension"), unique=True, validators=[MinValueValidator(1), MaxValueValidator(9_999_999_999)],
        help_text=_("Unique across the estate and inside one of the home site's extension ranges."))
    name = models.CharField(_("display name"), max_length=80, validators=[grammar.validate_display_name],
                            help_text=_("Shown on the phones called (SIP display name) and in the voicemail "
                                        "directory."))
    email = models.EmailField(_("email"), max_length=80, blank=True, validators=[grammar.validate_mail_address])
    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="sip_users",
                             verbose_name=_("home site"))
    enabled = models.BooleanField(_("enabled"), default=True, help_text=_("A disabled user cannot register or call."))
    caller_id = models.CharField(_("caller ID"), max_length=40, blank=True, validators=[grammar.validate_caller_id],
                                 help_text=_('A name, a number or both ("Front desk" <+34911234567>); empty means '
                                             '"display name" <extension>.'))
    nat = models.BooleanField(_("behind NAT"), default=False,
                              help_text=_("Remote extension: symmetric RTP, rport, contact rewrite, no direct media."))
    codecs = models.CharField(_("codecs"), max_length=200, blank=True, validators=[validate_codecs],
                              help_text=format_lazy(_("Comma-separated Asterisk codec names; empty means {codecs}."),
                                                    codecs=DEFAULT_CODECS))
    ha1 = models.CharField(_("HA1"), max_length=32, editable=False)
    ha1b = models.CharField(_("HA1b"), max_length=32, editable=False)
    voicemail_enabled = models.BooleanField(_("voicemail"), default=True)
    voicemail_pin = models.CharField(_("voicemail PIN"), max_length=80, blank=True, validators=[validate_pin_digits],
                                     help_text=_("Stored in clear: Asterisk's realtime voicemail needs it."))
    voicemail_email = models.EmailField(_("voicemail notification email"), max_length=80, blank=True,
                                        validators=[grammar.validate_mail_address],
                                        help_text=_("Where new messages are notified; empty means the user's email."))
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    audit_secret_fields = ("ha1", "ha1b", "voicemail_pin")

    scoped_by = "site"  # voipadmin.scope

    class Meta:
        ordering = ["extension"]
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [("reset_voicemail_pin", "Can reset a voicemail PIN")]  # (a row of auth_permission: data)
        indexes = [models.Index(fields=["name"], name="users_sipuser_name_idx")]

    def __str__(self) -> str:
        return f"{self.extension} {self.name}"

    def clean(self) -> None:
        """The extension must lie in one of the home site's ranges (uniqueness is the DB's job). What each
        field may hold (names, caller ID, codecs ...) is on the field: the CSV import checks it there too."""
        errors = {}
        if self.extension and self.site_id and not self.site.owns_extension(self.extension):
            ranges = ", ".join(str(r) for r in self.site.extension_ranges.all()) or gettext("none")
            errors["extension"] = gettext("%(extension)s is outside %(site)s's extension ranges (%(ranges)s).") % {
                "extension": self.extension, "site": self.site, "ranges": ranges}
        if errors:
            raise ValidationError(errors)

    def get_absolute_url(self) -> str:
        return object_url("users:sipuser_detail", self.pk)

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
        """What Asterisk presents (``ps_endpoints.callerid``): always ``"name" <number>``, at most 40 characters."""
        from .realtime import callerid

        return callerid(self.name, self.caller_id, self.extension)

    @property
    def effective_codecs(self) -> str:
        return self.codecs or DEFAULT_CODECS


class AsteriskEnumField(models.CharField):
    """A column of one of Asterisk's PostgreSQL enum types (``ast_bool_values``, …; created by users/0002).

    On SQLite (the embedded mode) it is plain text.
    """

    def __init__(self, *args, enum_type: str = "ast_bool_values", **kwargs):
        self.enum_type = enum_type
        kwargs.setdefault("max_length", 8)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["enum_type"] = self.enum_type
        return name, path, args, kwargs

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return f"public.{self.enum_type}"
        return super().db_type(connection)


class AsteriskContact(models.Model):
    """Asterisk's ``ps_contacts`` table, exactly as ``res_pjsip`` writes it through sorcery realtime.

    Phones normally register at Kamailio (its ``location`` table); a phone or gateway registering
    straight to an Asterisk is stored here, by Asterisk, so a node restart keeps it. The portal only
    reads it (the live view gets contacts over AMI); per-site schemas have a table of their own.
    """

    id = models.CharField(_("ID"), max_length=255, primary_key=True)
    uri = models.CharField(_("URI"), max_length=511, null=True, blank=True)
    expiration_time = models.BigIntegerField(_("expiration time"), null=True, blank=True)
    qualify_frequency = models.IntegerField(_("qualify frequency"), null=True, blank=True)
    outbound_proxy = models.CharField(_("outbound proxy"), max_length=255, null=True, blank=True)
    path = models.TextField(_("path"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, null=True, blank=True)
    qualify_timeout = models.FloatField(_("qualify timeout"), null=True, blank=True)
    reg_server = models.CharField(_("reg server"), max_length=255, null=True, blank=True)
    authenticate_qualify = AsteriskEnumField(_("authenticate qualify"), null=True, blank=True)
    via_addr = models.CharField(_("via addr"), max_length=40, null=True, blank=True)
    via_port = models.IntegerField(_("via port"), null=True, blank=True)
    call_id = models.CharField(_("call ID"), max_length=255, null=True, blank=True)
    endpoint = models.CharField(_("endpoint"), max_length=255, null=True, blank=True)
    prune_on_boot = AsteriskEnumField(_("prune on boot"), null=True, blank=True)
    qualify_2xx_only = AsteriskEnumField(_("qualify 2xx only"), null=True, blank=True)

    class Meta:
        db_table = "ps_contacts"
        verbose_name = _("Asterisk contact")
        verbose_name_plural = _("Asterisk contacts")
        default_permissions = ("view",)  # Asterisk writes them
        constraints = [models.UniqueConstraint(fields=["id", "reg_server"], name="ps_contacts_id_reg_server_uq")]
        indexes = [models.Index(fields=["expiration_time"], name="ps_contacts_expiration_idx"),
                   models.Index(fields=["qualify_frequency", "expiration_time"], name="ps_contacts_qualify_idx")]

    def __str__(self) -> str:
        return self.uri or self.id


#: BLF keys a user may have (the biggest expansion modules of desk phones stop well before it)
MAX_MONITORED_EXTENSIONS = 64


class MonitoredExtension(models.Model):
    """One BLF key of a user: button ``position`` (1..N, the list's order) lights with ``monitored``'s state.

    As in FreePBX/Wazo, the keys are an ordered list per user, each an extension of the estate (another
    ``SipUser``, of any site: a receptionist watches the branches), never the user's own, each at most once.
    The phone subscribes to each key's extension **individually** at Kamailio (``SUBSCRIBE
    sip:<extension>@<its site's SIP domain>``, ``Event: dialog``): Kamailio's resource lists (RLS, RFC 4662)
    are not used — no ``rls`` module, no XCAP documents; the portal only stores the list and hands it to the
    phones' provisioning (``GET /api/v1/users/{id}/blf/``).

    Positions are always 1..N without gaps (``users.actions`` renumbers), so the list reads the same in the
    form, the CSV cell and the API. A key follows its monitored *user* (a new extension moves with it); when
    that user is deleted, its keys go with it, later keys move up, and the watcher's log says so.
    """

    user = models.ForeignKey(SipUser, on_delete=models.CASCADE, related_name="monitored_extensions",
                             verbose_name=_("user"))
    position = models.PositiveSmallIntegerField(
        _("position"), validators=[MinValueValidator(1), MaxValueValidator(MAX_MONITORED_EXTENSIONS)])
    monitored = models.ForeignKey(SipUser, on_delete=models.CASCADE, related_name="watched_by",
                                  verbose_name=_("monitored user"))
    label = models.CharField(_("label"), max_length=40, blank=True, validators=[grammar.validate_display_name],
                             help_text=_("Shown next to the key; empty means the monitored user's display name."))

    scoped_by = "user__site"  # voipadmin.scope: a key belongs to its user's site, whatever it watches

    class Meta:
        ordering = ["user", "position"]
        verbose_name = _("monitored extension")
        verbose_name_plural = _("monitored extensions")
        default_permissions = ()  # (seen and changed with their user: view/change_sipuser)
        constraints = [
            models.UniqueConstraint(fields=["user", "position"], name="users_monitored_position_uq"),
            models.UniqueConstraint(fields=["user", "monitored"], name="users_monitored_once_uq"),
            models.CheckConstraint(condition=~models.Q(user=models.F("monitored")), name="users_monitored_not_self"),
            models.CheckConstraint(condition=models.Q(position__gte=1, position__lte=MAX_MONITORED_EXTENSIONS),
                                   name="users_monitored_position_range"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} #{self.position} → {self.monitored_id}"
