"""Sites (the central site and the delegations) and the nodes that serve them."""
from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy as _, ngettext

from voipadmin import grammar
from voipadmin.fields import EncryptedTextField
from voipadmin.paths import object_url

from .choices import NodeRole, SiteKind
from voipadmin.scope import ESTATE_WIDE

#: A site's SIP domain: a lower-case DNS name or an IPv4 address (never 999.1.1.1; see voipadmin.grammar).
sip_domain_validator = grammar.validate_domain_name
#: The host of a SIP URI (RFC 3261 ``host``, see voipadmin.grammar); trunks use it too.
host_validator = grammar.validate_sip_host


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(gettext("%(value)s is not a known time zone (e.g. Europe/Madrid).")
                              % {"value": repr(value)})


class Site(models.Model):
    """The central site or a delegation: one Asterisk (or more) and a block of extensions."""

    name = models.CharField(_("name"), max_length=100, unique=True, validators=[grammar.validate_single_line])
    # At most 30: the slug names Asterisk's voicemail context and tz (varchar(30)) and the context
    # site-<slug> (varchar(40)). A validator, not a narrower column: the Asterisk views depend on it.
    slug = models.SlugField(_("slug"), max_length=50, unique=True, validators=[MaxLengthValidator(30)],
                            help_text=_("Short name used in Asterisk contexts and CSV files (e.g. branch1)."))
    kind = models.CharField(_("kind"), max_length=16, choices=SiteKind.choices, default=SiteKind.DELEGATION)
    sip_domain = models.CharField(_("SIP domain"), max_length=64, validators=[sip_domain_validator],
                                  help_text=_("SIP domain of this site's users; Kamailio's realm for them."))
    address = models.CharField(_("address"), max_length=200, blank=True, validators=[grammar.validate_single_line],
                               help_text=_("Postal address of the office."))
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    notes = models.TextField(_("notes"), blank=True, validators=[grammar.validate_multi_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    scoped_by = "pk"  # voipadmin.scope: a site-limited account sees its own sites
    site_limited_actions = ("view", "change")  # ... and may edit them, never add or remove a site

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return object_url("sites:site_detail", self.pk)

    @property
    def asterisk_context(self) -> str:
        """Dialplan context of this site's users on their Asterisk."""
        return f"site-{self.slug}"

    def owns_extension(self, extension: int) -> bool:
        return any(r.start <= extension <= r.end for r in self.extension_ranges.all())


class ExtensionRange(models.Model):
    """A block of extensions a site owns; blocks never overlap across the estate."""

    site = models.ForeignKey("sites.Site", verbose_name=_("site"),
                             on_delete=models.CASCADE, related_name="extension_ranges")
    start = models.PositiveIntegerField(_("start"))
    end = models.PositiveIntegerField(_("end"))

    scoped_by = "site"

    class Meta:
        verbose_name = _("extension range")
        verbose_name_plural = _("extension ranges")
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="extensionrange_start_le_end"),
        ]

    def __str__(self) -> str:
        return f"{self.start}–{self.end}"

    def clean(self) -> None:
        if self.start is None or self.end is None:
            return
        if self.end < self.start:
            raise ValidationError(gettext("The range ends before it starts."))
        clash = (ExtensionRange.objects.filter(start__lte=self.end, end__gte=self.start)
                 .exclude(pk=self.pk).select_related("site").first())
        if clash:
            raise ValidationError(gettext("%(range)s overlaps %(other)s of site %(site)s.")
                                  % {"range": self, "other": clash, "site": clash.site})


class Node(models.Model):
    """Fields common to every server voipadmin talks to."""

    name = models.CharField(_("name"), max_length=100, unique=True, validators=[grammar.validate_single_line])
    enabled = models.BooleanField(_("enabled"),
                                  default=True, help_text=_("Disabled nodes are neither polled nor pushed to."))
    notes = models.TextField(_("notes"), blank=True, validators=[grammar.validate_multi_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AsteriskNode(Node):
    """An Asterisk of a site, reached over AMI (TCP 5038) and ARI (HTTP 8088)."""

    site = models.ForeignKey("sites.Site", verbose_name=_("site"),
                             on_delete=models.PROTECT, related_name="asterisk_nodes")
    host = models.CharField(_("host"),
                            max_length=255, validators=[host_validator], help_text=_("SIP address Kamailio sends to."))
    sip_port = models.PositiveIntegerField(_("SIP port"), default=5060,
                                           validators=[MinValueValidator(1), MaxValueValidator(65535)])
    ami_host = models.CharField(_("AMI host"), max_length=255, blank=True, validators=[grammar.validate_network_host],
                                help_text=_("Defaults to the node's host."))
    ami_port = models.PositiveIntegerField(_("AMI port"), default=5038,
                                           validators=[MinValueValidator(1), MaxValueValidator(65535)])
    ami_username = models.CharField(_("AMI username"), max_length=64, blank=True,
                                    validators=[grammar.validate_account_name])
    ami_secret = EncryptedTextField(_("AMI secret"), blank=True, validators=[grammar.validate_secret])
    ari_url = models.URLField(_("ARI URL"), blank=True, validators=[grammar.validate_http_url],
                              help_text=_("Base URL with its scheme, e.g. http://pbx.example.test:8088/ari"))
    ari_username = models.CharField(_("ARI username"), max_length=64, blank=True,
                                    validators=[grammar.validate_account_name])
    ari_password = EncryptedTextField(_("ARI password"), blank=True, validators=[grammar.validate_secret])
    roles = models.CharField(_("roles"), max_length=100, blank=True,
                             help_text=format_lazy(_("Comma-separated: {roles}"),
                                                   roles=", ".join(NodeRole.values)))
    #: Administrative state for calls, set only by ``actions.drain_node`` / ``return_node_to_service``: a draining
    #: node takes no new calls (Kamailio's dispatcher holds it disabled) while the calls it carries finish.
    draining = models.BooleanField(_("draining"), default=False, editable=False,
                                   help_text=_("Takes no new calls; the calls it carries finish normally."))

    scoped_by = "site"

    class Meta(Node.Meta):
        verbose_name = _("Asterisk node")
        verbose_name_plural = _("Asterisk nodes")

    def get_absolute_url(self) -> str:
        return object_url("sites:asterisknode_detail", self.pk)

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]

    def get_roles_display(self) -> str:
        labels = dict(NodeRole.choices)
        return ", ".join(str(labels.get(r, r)) for r in self.role_list)

    @property
    def sip_uri(self) -> str:
        return f"sip:{self.host}:{self.sip_port}"

    def drain_label(self, calls: int) -> str:
        """What an operator waits for after a drain: "draining (N calls)" while the poller still sees calls
        on the node, then "drained (idle)" (it can be stopped); "" for a node in service."""
        if not self.draining:
            return ""
        if calls:
            return ngettext("draining (%(calls)s call)", "draining (%(calls)s calls)", calls) % {"calls": calls}
        return gettext("drained (idle)")

    @property
    def effective_ami_host(self) -> str:
        """Where to open the AMI connection: an IPv6 host loses the brackets its SIP URI needs."""
        host = self.ami_host or self.host
        return host[1:-1] if host.startswith("[") and host.endswith("]") else host

    def clean(self) -> None:
        unknown = set(self.role_list) - set(NodeRole.values)
        if unknown:
            raise ValidationError({"roles": gettext("Unknown role(s): %(roles)s")
                                   % {"roles": ", ".join(sorted(unknown))}})


class KamailioNode(Node):
    """The Kamailio in front of the estate, managed over JSON-RPC (jsonrpcs over HTTP)."""

    sip_address = models.CharField(_("SIP address"), max_length=255, validators=[grammar.validate_hostport],
                                   help_text=_("host:port where phones register."))
    jsonrpc_url = models.URLField(_("JSON-RPC URL"), validators=[grammar.validate_http_url],
                                  help_text=_("With its scheme, e.g. http://127.0.0.1:5071/RPC"))
    jsonrpc_username = models.CharField(_("JSON-RPC username"), max_length=64, blank=True,
                                        validators=[grammar.validate_account_name])
    jsonrpc_password = EncryptedTextField(_("JSON-RPC password"), blank=True, validators=[grammar.validate_secret])

    scoped_by = ESTATE_WIDE  # one Kamailio serves every site

    class Meta(Node.Meta):
        verbose_name = _("Kamailio node")
        verbose_name_plural = _("Kamailio nodes")

    def get_absolute_url(self) -> str:
        return object_url("sites:kamailionode_detail", self.pk)
