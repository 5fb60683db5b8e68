"""Sites (the central site and the delegations) and the nodes that serve them."""
from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models

from voipadmin import grammar
from voipadmin.fields import EncryptedTextField
from voipadmin.paths import object_url

from .choices import NodeRole, SiteKind

#: A site's SIP domain: a lower-case DNS name or an IPv4 address (never 999.1.1.1; see voipadmin.grammar).
sip_domain_validator = grammar.validate_domain_name
#: The host of a SIP URI (RFC 3261 ``host``, see voipadmin.grammar); trunks use it too.
host_validator = grammar.validate_sip_host


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Madrid).")


class Site(models.Model):
    """The central site or a delegation: one Asterisk (or more) and a block of extensions."""

    name = models.CharField(max_length=100, unique=True, validators=[grammar.validate_single_line])
    # At most 30: the slug names Asterisk's voicemail context and tz (varchar(30)) and the context
    # site-<slug> (varchar(40)). A validator, not a narrower column: the Asterisk views depend on it.
    slug = models.SlugField(max_length=50, unique=True, validators=[MaxLengthValidator(30)],
                            help_text="Short name used in Asterisk contexts and CSV files (e.g. branch1).")
    kind = models.CharField(max_length=16, choices=SiteKind.choices, default=SiteKind.DELEGATION)
    sip_domain = models.CharField("SIP domain", max_length=64, validators=[sip_domain_validator],
                                  help_text="SIP domain of this site's users; Kamailio's realm for them.")
    address = models.CharField(max_length=200, blank=True, validators=[grammar.validate_single_line],
                               help_text="Postal address of the office.")
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    notes = models.TextField(blank=True, validators=[grammar.validate_multi_line])
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
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

    site = models.ForeignKey("sites.Site", on_delete=models.CASCADE, related_name="extension_ranges")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()

    class Meta:
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
            raise ValidationError("The range ends before it starts.")
        clash = (ExtensionRange.objects.filter(start__lte=self.end, end__gte=self.start)
                 .exclude(pk=self.pk).select_related("site").first())
        if clash:
            raise ValidationError(f"{self} overlaps {clash} of site {clash.site}.")


class Node(models.Model):
    """Fields common to every server voipadmin talks to."""

    name = models.CharField(max_length=100, unique=True, validators=[grammar.validate_single_line])
    enabled = models.BooleanField(default=True, help_text="Disabled nodes are neither polled nor pushed to.")
    notes = models.TextField(blank=True, validators=[grammar.validate_multi_line])
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AsteriskNode(Node):
    """An Asterisk of a site, reached over AMI (TCP 5038) and ARI (HTTP 8088)."""

    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="asterisk_nodes")
    host = models.CharField(max_length=255, validators=[host_validator], help_text="SIP address Kamailio sends to.")
    sip_port = models.PositiveIntegerField("SIP port", default=5060,
                                           validators=[MinValueValidator(1), MaxValueValidator(65535)])
    ami_host = models.CharField("AMI host", max_length=255, blank=True, validators=[grammar.validate_network_host],
                                help_text="Defaults to the node's host.")
    ami_port = models.PositiveIntegerField("AMI port", default=5038,
                                           validators=[MinValueValidator(1), MaxValueValidator(65535)])
    ami_username = models.CharField("AMI username", max_length=64, blank=True,
                                    validators=[grammar.validate_account_name])
    ami_secret = EncryptedTextField("AMI secret", blank=True, validators=[grammar.validate_secret])
    ari_url = models.URLField("ARI URL", blank=True, validators=[grammar.validate_http_url],
                              help_text="Base URL with its scheme, e.g. http://pbx.example.test:8088/ari")
    ari_username = models.CharField("ARI username", max_length=64, blank=True,
                                    validators=[grammar.validate_account_name])
    ari_password = EncryptedTextField("ARI password", blank=True, validators=[grammar.validate_secret])
    roles = models.CharField(max_length=100, blank=True,
                             help_text="Comma-separated: " + ", ".join(NodeRole.values))

    class Meta(Node.Meta):
        verbose_name = "Asterisk node"

    def get_absolute_url(self) -> str:
        return object_url("sites:asterisknode_detail", self.pk)

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]

    def get_roles_display(self) -> str:
        labels = dict(NodeRole.choices)
        return ", ".join(labels.get(r, r) for r in self.role_list)

    @property
    def sip_uri(self) -> str:
        return f"sip:{self.host}:{self.sip_port}"

    @property
    def effective_ami_host(self) -> str:
        """Where to open the AMI connection: an IPv6 host loses the brackets its SIP URI needs."""
        host = self.ami_host or self.host
        return host[1:-1] if host.startswith("[") and host.endswith("]") else host

    def clean(self) -> None:
        unknown = set(self.role_list) - set(NodeRole.values)
        if unknown:
            raise ValidationError({"roles": f"Unknown role(s): {', '.join(sorted(unknown))}"})


class KamailioNode(Node):
    """The Kamailio in front of the estate, managed over JSON-RPC (jsonrpcs over HTTP)."""

    sip_address = models.CharField("SIP address", max_length=255, validators=[grammar.validate_hostport],
                                   help_text="host:port where phones register.")
    jsonrpc_url = models.URLField("JSON-RPC URL", validators=[grammar.validate_http_url],
                                  help_text="With its scheme, e.g. http://127.0.0.1:5071/RPC")
    jsonrpc_username = models.CharField("JSON-RPC username", max_length=64, blank=True,
                                        validators=[grammar.validate_account_name])
    jsonrpc_password = EncryptedTextField("JSON-RPC password", blank=True, validators=[grammar.validate_secret])

    class Meta(Node.Meta):
        verbose_name = "Kamailio node"

    def get_absolute_url(self) -> str:
        return object_url("sites:kamailionode_detail", self.pk)
