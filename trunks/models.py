"""Trunks out of the estate (E1 lines on an Asterisk, SIP trunks to an ITSP) and the PSTN routes over them.

``Trunk`` is the common parent (multi-table inheritance): routes point at a ``Trunk`` whatever its
kind, the nav and the permission ``trunks.view_trunk`` see one list, and ``E1Trunk`` / ``ItspTrunk``
carry what only their kind has.

Kamailio sees trunks and routes only through projections kept by :mod:`trunks.projection`
(``dispatcher`` sets 1000+route id, ``dialplan`` dpid 2, ``address`` groups >= 2, ``uacreg``).
"""
from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext, gettext_lazy as _
from django.db.models import Q

from sites.models import host_validator
from voipadmin import grammar, numbers
from voipadmin.fields import EncryptedTextField
from voipadmin.paths import object_url
from voipadmin.scope import ESTATE_WIDE, VIEW

from .choices import (CallerIdPresentation, E1Role, E1Signalling, ItspAuth, RouteKind, SwitchType, Transport,
                      TrunkKind)

#: dispatcher set ids of outbound routes: ROUTE_SETID_BASE + route id (services owns 1..999).
ROUTE_SETID_BASE = 1000

name_validator = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z",
                                _("Letters, digits, dot, dash and underscore only (it is used as a Kamailio key)."))
#: ASCII digits only: ``\d`` would take "١" (and "²" reached int() in ``clean``, a 500).
channels_validator = RegexValidator(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*\Z", _("Enter channels like 1-15,17-31."))
#: What an E1 line's Asterisk dials: a channel technology, a resource, and {number}; no dialplan syntax
#: (commas, parentheses, $, spaces) can get through into extensions.conf.
DIAL_PLACEHOLDERS = ("group", "span", "number")
dial_string_validator = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.@/:+{}-]*\{number\}[A-Za-z0-9_.@/:+{}-]*\Z",
    _("Give a channel such as DAHDI/g{group}/{number}: technology/resource with {number} in it; letters, digits "
      "and _ . @ / : + - only."))
DEFAULT_DIAL_STRING = "DAHDI/g{group}/{number}"


def parse_channels(text: str) -> list[tuple[int, int]]:
    """``"1-15,17-31"`` → ``[(1, 15), (17, 31)]``: E1 B channels, each block in order (one number parser:
    voipadmin.numbers, so "²" is an error, not a 500)."""
    blocks = []
    for part in (text or "").split(","):
        bits = part.split("-")
        if len(bits) > 2:
            raise ValidationError(gettext("%(part)s is not a channel or a block like 1-15.") % {"part": repr(part)})
        first, last = (numbers.parse_int(b, what="A channel") for b in (bits[0], bits[-1]))
        if not (1 <= first <= 31 and 1 <= last <= 31):
            raise ValidationError(gettext("E1 channels are numbered 1 to 31."))
        if last < first:
            raise ValidationError(gettext("%(part)s ends before it starts.") % {"part": part})
        blocks.append((first, last))
    return blocks


def parse_ip_list(text: str) -> list[tuple[str, int]]:
    """``"192.0.2.10\\n198.51.100.0/24"`` → ``[("192.0.2.10", 32), ("198.51.100.0", 24)]`` (clear errors)."""
    result = []
    for raw in re.split(r"[\s,;]+", text or ""):
        if not raw:
            continue
        try:
            if not raw.isascii() or "%" in raw:  # (no scope ids: an address others route to)
                raise ValueError(raw)
            net = ipaddress.ip_network(raw, strict=False)
        except ValueError:
            raise ValidationError(gettext("%(entry)s is not an IP address or subnet (e.g. 192.0.2.10 or "
                                          "192.0.2.0/28).") % {"entry": repr(raw)})
        result.append((str(net.network_address), net.prefixlen))
    return result


def validate_ip_list(text: str) -> None:
    """A field validator: every entry is an address or a subnet (empty is the field's own business)."""
    parse_ip_list(text)


class Trunk(models.Model):
    """What every trunk has; see ``E1Trunk`` and ``ItspTrunk`` for the rest."""

    name = models.CharField(_("name"), max_length=64, unique=True, validators=[name_validator],
                            help_text=_("Also the key of its Kamailio rows (address tag, uacreg l_uuid)."))
    kind = models.CharField(_("kind"), max_length=8, choices=TrunkKind.choices, editable=False)
    enabled = models.BooleanField(_("enabled"),
                                  default=True, help_text=_("A disabled trunk is left out of every route."))
    description = models.CharField(_("description"),
                                   max_length=200, blank=True, validators=[grammar.validate_single_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    @staticmethod
    def scoped_by(site_ids, action):
        """E1 lines belong to their Asterisk's site; ITSP trunks are the estate's (seen, not changed)."""
        e1 = Q(e1trunk__asterisk_node__site__in=site_ids)
        return e1 | Q(kind=TrunkKind.ITSP) if action == VIEW else e1

    class Meta:
        verbose_name = _("trunk")
        verbose_name_plural = _("trunks")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def specific(self) -> "E1Trunk | ItspTrunk":
        """The E1/ITSP row of this trunk (already loaded when queried with select_related)."""
        return self.e1trunk if self.kind == TrunkKind.E1 else self.itsptrunk

    def get_absolute_url(self) -> str:
        return object_url(f"trunks:{self.kind}trunk_detail", self.pk)

    @property
    def dispatcher_uri(self) -> str:
        return self.specific().dispatcher_uri


class E1Trunk(Trunk):
    """An E1 (PRI) line on an Asterisk node: to the PSTN or to the legacy PBX."""

    asterisk_node = models.ForeignKey("sites.AsteriskNode", on_delete=models.PROTECT, related_name="e1_trunks",
                                      verbose_name=_("Asterisk node"))
    span = models.PositiveSmallIntegerField(_("span"), validators=[MinValueValidator(1), MaxValueValidator(128)])
    channels = models.CharField(_("channels"), max_length=64, default="1-15,17-31", validators=[channels_validator],
                                help_text=_("B channels of the span, e.g. 1-15,17-31 (16 is the D channel)."))
    group = models.PositiveSmallIntegerField(_("group"), default=1, validators=[MaxValueValidator(63)],
                                             help_text=_("DAHDI group Asterisk dials out on (Dial(DAHDI/g1/...))."))
    signalling = models.CharField(_("signalling"),
                                  max_length=16, choices=E1Signalling.choices, default=E1Signalling.PRI_CPE)
    switch_type = models.CharField(_("switch type"),
                                   max_length=16, choices=SwitchType.choices, default=SwitchType.EUROISDN)
    role = models.CharField(_("role"), max_length=16, choices=E1Role.choices, default=E1Role.PSTN)
    dial_string = models.CharField(
        _("dial string"), max_length=100, default=DEFAULT_DIAL_STRING, validators=[dial_string_validator],
        help_text=_("What the node dials to send a call out of this line; {group}, {span} and {number} are "
                    "filled in. The default is the span's DAHDI group; a line on a separate gateway could be "
                    "PJSIP/{number}@gateway."))

    scoped_by = "asterisk_node__site"

    class Meta:
        verbose_name = _("E1 trunk")
        verbose_name_plural = _("E1 trunks")
        constraints = [models.UniqueConstraint(fields=["asterisk_node", "span"], name="e1trunk_node_span_unique")]

    def save(self, *args, **kwargs):
        self.kind = TrunkKind.E1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        unknown = set(re.findall(r"\{([^}]*)\}", self.dial_string or "")) - set(DIAL_PLACEHOLDERS)
        if unknown:
            raise ValidationError({"dial_string": gettext(
                "Unknown placeholder(s) %(placeholders)s; use {group}, {span} and {number}.") % {
                "placeholders": ", ".join("{%s}" % u for u in sorted(unknown))}})
        try:
            parse_channels(self.channels)
        except ValidationError as exc:
            raise ValidationError({"channels": exc.messages}) from None
        if self.asterisk_node_id and len(self.asterisk_node.sip_uri) > DISPATCHER_URI_MAX:
            raise ValidationError({"asterisk_node": gettext(
                "Its SIP URI is %(length)s characters; Kamailio's dispatcher table (where routes send calls to "
                "this line) takes at most %(max)s.") % {"length": len(self.asterisk_node.sip_uri),
                                                       "max": DISPATCHER_URI_MAX}})

    def asterisk_dial(self, number: str = "${EXTEN}") -> str:
        """The Dial() argument for ``number`` (a dialplan expression) out of this line."""
        return (self.dial_string or DEFAULT_DIAL_STRING).format(group=self.group, span=self.span, number=number)

    @property
    def dispatcher_uri(self) -> str:
        """Kamailio sends calls for this line to the Asterisk it sits on."""
        return self.asterisk_node.sip_uri


#: Column widths of Kamailio 5.6's tables an ITSP is projected into (uacreg, dispatcher.destination).
UACREG_DOMAIN_MAX = 64
UACREG_PASSWORD_MAX = 64
UACREG_PROXY_MAX = 255
DISPATCHER_URI_MAX = 192


class ItspTrunk(Trunk):
    """A SIP trunk to an internet telephony service provider, authenticated by IP or by registration."""

    host = models.CharField(_("host"), max_length=255, validators=[host_validator])
    port = models.PositiveIntegerField(_("port"),
                                       default=5060, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    transport = models.CharField(_("transport"), max_length=4, choices=Transport.choices, default=Transport.UDP)
    auth_mode = models.CharField(_("auth mode"), max_length=16, choices=ItspAuth.choices, default=ItspAuth.IP)
    # by IP: rows in Kamailio's `address` table
    ip_addresses = models.TextField(_("IP addresses"), blank=True, validators=[validate_ip_list],
                                    help_text=_("Addresses/subnets the ITSP sends from, one per line."))
    address_group = models.PositiveIntegerField(
        _("address group"), default=2, validators=[MinValueValidator(2), MaxValueValidator(999)],
        help_text=_("Kamailio permissions group (group 1 is the estate's own trusted peers)."))
    # by registration: a row in Kamailio's `uacreg` table
    username = models.CharField(_("username"), max_length=64, blank=True, validators=[grammar.validate_sip_user],
                                help_text=_("Account (registered user) at the ITSP."))
    auth_username = models.CharField(_("auth username"),
                                     max_length=64, blank=True, validators=[grammar.validate_quoted_text],
                                     help_text=_("Defaults to the username."))
    auth_password = EncryptedTextField(_("auth password"), blank=True, validators=[grammar.validate_secret])
    realm = models.CharField(_("realm"), max_length=64, blank=True, validators=[grammar.validate_quoted_text])
    proxy = models.CharField(_("proxy"), max_length=255, blank=True, validators=[grammar.validate_sip_uri],
                             help_text=_("Outbound proxy for the REGISTER (sip:host:port); defaults to the "
                                         "trunk's."))
    expires = models.PositiveIntegerField(_("expires"),
                                          default=3600, validators=[MinValueValidator(60), MaxValueValidator(86400)])
    # caller ID
    caller_id_presentation = models.CharField(_("caller ID presentation"), max_length=16,
                                              choices=CallerIdPresentation.choices,
                                              default=CallerIdPresentation.ALLOWED)
    caller_id_number = models.CharField(_("caller ID number"), max_length=32, blank=True, validators=[
        RegexValidator(r"^\+?[0-9]+\Z", _("Digits only, optionally with a leading +."))],
                                        help_text=_("The trunk's main number, presented when asked to."))

    scoped_by = ESTATE_WIDE

    class Meta:
        verbose_name = _("ITSP trunk")
        verbose_name_plural = _("ITSP trunks")

    def save(self, *args, **kwargs):
        self.kind = TrunkKind.ITSP
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = {}
        if self.auth_mode == ItspAuth.IP:
            try:
                if not parse_ip_list(self.ip_addresses):
                    errors["ip_addresses"] = gettext("Authentication by IP needs at least one address.")
            except ValidationError as exc:
                errors["ip_addresses"] = exc.messages
        elif self.auth_mode == ItspAuth.REGISTRATION:
            if not self.username:
                errors["username"] = gettext("Authentication by registration needs a username.")
            if not self.auth_password:
                errors["auth_password"] = gettext("Authentication by registration needs a password.")
            # Kamailio's uacreg columns are narrower than ours: refuse what it could not store.
            if len(self.host or "") > UACREG_DOMAIN_MAX:
                errors["host"] = gettext("Kamailio's uacreg table takes a registration domain of at most "
                                         "%(max)s characters.") % {"max": UACREG_DOMAIN_MAX}
            if len(self.auth_password or "") > UACREG_PASSWORD_MAX:
                errors["auth_password"] = gettext("Kamailio's uacreg table takes a password of at most "
                                                  "%(max)s characters.") % {"max": UACREG_PASSWORD_MAX}
            if len(self.proxy or "") > UACREG_PROXY_MAX:
                errors["proxy"] = gettext("Kamailio's uacreg table takes a proxy of at most %(max)s "
                                          "characters.") % {"max": UACREG_PROXY_MAX}
        if len(self.dispatcher_uri) > DISPATCHER_URI_MAX and "host" not in errors:
            errors["host"] = gettext("The trunk's SIP URI (%(length)s characters) must fit Kamailio's dispatcher "
                                     "table (%(max)s); use a shorter host name.") % {
                "length": len(self.dispatcher_uri), "max": DISPATCHER_URI_MAX}
        if self.caller_id_presentation == CallerIdPresentation.TRUNK_NUMBER and not self.caller_id_number:
            errors["caller_id_number"] = gettext("Give the number to present.")
        if errors:
            raise ValidationError(errors)

    @property
    def dispatcher_uri(self) -> str:
        uri = f"sip:{self.host}:{self.port}"
        return uri if self.transport == Transport.UDP else f"{uri};transport={self.transport}"

    @property
    def ip_networks(self) -> list[tuple[str, int]]:
        return parse_ip_list(self.ip_addresses) if self.auth_mode == ItspAuth.IP else []


class OutboundRoute(models.Model):
    """Numbers matching ``pattern`` leave through ``trunks`` in order (the first answering one wins)."""

    name = models.CharField(_("name"), max_length=64, unique=True, validators=[grammar.validate_single_line])
    kind = models.CharField(_("kind"), max_length=16, choices=RouteKind.choices, default=RouteKind.NATIONAL)
    pattern = models.CharField(_("pattern"), max_length=64, validators=[grammar.validate_dial_pattern],
                               help_text=_("Regular expression on the dialled number, e.g. ^[67][0-9]{8}$"))
    priority = models.PositiveIntegerField(_("priority"),
                                           default=100, help_text=_("Lower is tried first when patterns overlap."))
    strip = models.PositiveSmallIntegerField(_("strip"), default=0, validators=[MaxValueValidator(20)],
                                             help_text=_("Leading digits removed before sending."))
    prepend = models.CharField(_("prepend"), max_length=16, blank=True, validators=[
        RegexValidator(r"^\+?[0-9]*\Z", _("Digits only, optionally with a leading +."))],
                               help_text=_("Prefix added after stripping, e.g. +34."))
    enabled = models.BooleanField(_("enabled"), default=True)
    description = models.CharField(_("description"),
                                   max_length=200, blank=True, validators=[grammar.validate_single_line])
    trunks = models.ManyToManyField("trunks.Trunk", verbose_name=_("trunks"),
                                    through="trunks.RouteTrunk", related_name="routes")
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    scoped_by = ESTATE_WIDE  # routes serve every site

    class Meta:
        ordering = ["priority", "name"]
        verbose_name = _("outbound route")
        verbose_name_plural = _("outbound routes")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return object_url("trunks:outboundroute_detail", self.pk)

    @property
    def setid(self) -> int:
        """The Kamailio dispatcher set holding this route's trunks in order."""
        return ROUTE_SETID_BASE + self.pk

    def clean(self) -> None:
        try:
            re.compile(self.pattern or "")
        except re.error as exc:
            raise ValidationError({"pattern": gettext("Not a valid regular expression: %(error)s.") % {"error": exc}})
        if self.pattern and not self.pattern.startswith("^"):
            raise ValidationError({"pattern": gettext("Anchor the pattern at the start with ^ (e.g. ^00[0-9]+$).")})


class RouteTrunk(models.Model):
    """The position of a trunk in a route (0 first)."""

    route = models.ForeignKey("trunks.OutboundRoute", verbose_name=_("route"),
                              on_delete=models.CASCADE, related_name="route_trunks")
    trunk = models.ForeignKey("trunks.Trunk", verbose_name=_("trunk"),
                              on_delete=models.PROTECT, related_name="route_trunks")
    position = models.PositiveSmallIntegerField(_("position"))

    scoped_by = ESTATE_WIDE

    class Meta:
        verbose_name = _("route trunk")
        verbose_name_plural = _("route trunks")
        ordering = ["route", "position"]
        constraints = [
            models.UniqueConstraint(fields=["route", "trunk"], name="routetrunk_route_trunk_unique"),
            models.UniqueConstraint(fields=["route", "position"], name="routetrunk_route_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.route} #{self.position + 1}: {self.trunk}"
