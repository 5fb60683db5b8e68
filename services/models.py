"""Estate-wide services: dispatcher sets of Asterisk nodes, service codes (*123 ...), inbound numbers (DDIs),
and Asterisk's realtime ``extensions`` table the service codes are rendered into.

Kamailio sees these only through :mod:`services.projection` (dispatcher sets 1..999, dialplan dpids 1, 3, 4).
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy as _
from django.db.models import Q

from voipadmin import grammar
from voipadmin.paths import object_url
from voipadmin.scope import ESTATE_WIDE

from .choices import ALGORITHM_HELP_TEXT, Announcement, DispatcherAlgorithm, InboundTarget, RouteTo, ServiceKind

#: services owns dispatcher set ids 1..999 (trunks' routes use 1000+)
SETID_MAX = 999
#: Column widths in Kamailio 5.6's schema that a node's SIP URI is written into.
DISPATCHER_URI_MAX = 192  # dispatcher.destination
DIALPLAN_ATTRS_MAX = 64  # dialplan.attrs ("svc=<kind>;dst=sip:host:port" for codes served by one node)
HOME_RULE_URI_MAX = 256  # dialplan.repl_exp (a site's home rule outputs its node's SIP URI)
#: the most calls a destination of a least-loaded set (algorithm 10) can be given (Kamailio's ``maxload``)
MAX_CALLS = 10000
#: dispatcher attrs the portal writes itself for the load algorithms (services.projection.destination_attrs)
LOAD_ATTRS = ("duid", "maxload", "rweight")


def node_route_attrs(kind: str, node) -> str:
    """The dialplan ``attrs`` of a code served by one node (services.projection writes exactly this)."""
    return f"svc={kind};dst={node.sip_uri}"

code_validator = RegexValidator(r"^[*#]?[0-9]{1,15}\Z",
                                _("A code is digits, optionally after a leading * or # (e.g. *123)."))
number_validator = RegexValidator(r"^\+?[0-9]{3,20}\Z",
                                  _("Enter the number as dialled in, digits with an optional +."))
attrs_validator = RegexValidator(r"^[A-Za-z0-9_.:=;-]*\Z",
                                 _("Use name=value pairs separated by ; (e.g. site=central)."))


class DispatcherSet(models.Model):
    """A Kamailio dispatcher set of Asterisk nodes and the algorithm that picks among them."""

    setid = models.PositiveIntegerField(_("set ID"), unique=True,
                                        validators=[MinValueValidator(1), MaxValueValidator(SETID_MAX)],
                                        help_text=format_lazy(_("Kamailio set ID, 1–{max} (routes use 1000 and "
                                                                "up)."), max=SETID_MAX))
    name = models.CharField(_("name"), max_length=64, unique=True, validators=[grammar.validate_single_line])
    algorithm = models.PositiveSmallIntegerField(_("algorithm"), choices=DispatcherAlgorithm.choices,
                                                 default=DispatcherAlgorithm.ROUND_ROBIN,
                                                 help_text=ALGORITHM_HELP_TEXT)
    description = models.CharField(_("description"),
                                   max_length=200, blank=True, validators=[grammar.validate_single_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    scoped_by = ESTATE_WIDE  # voipadmin.scope: the estate's, changed by estate administrators

    class Meta:
        ordering = ["setid"]
        verbose_name = _("dispatcher set")
        verbose_name_plural = _("dispatcher sets")

    def __str__(self) -> str:
        return f"{self.name} (set {self.setid})"

    def get_absolute_url(self) -> str:
        return object_url("services:dispatcherset_detail", self.pk)


class DispatcherDestination(models.Model):
    """One Asterisk node in a set (a row of Kamailio's ``dispatcher`` table)."""

    dispatcher_set = models.ForeignKey("services.DispatcherSet", verbose_name=_("dispatcher set"),
                                       on_delete=models.CASCADE,
                                       related_name="destinations")
    node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("node"),
                             on_delete=models.PROTECT, related_name="dispatcher_destinations")
    priority = models.IntegerField(_("priority"),
                                   default=0, help_text=_("Higher is tried first by the priority algorithm."))
    weight = models.PositiveSmallIntegerField(_("weight"),
                                              default=1, validators=[MinValueValidator(1), MaxValueValidator(100)],
                                              help_text=_("Share of calls for the weight-based algorithm."))
    flags = models.PositiveSmallIntegerField(_("flags"), default=0, validators=[MaxValueValidator(31)],
                                             help_text=_("Kamailio destination flags (1 inactive, 2 probing, ...)."))
    attrs = models.CharField(_("attrs"), max_length=64, blank=True, validators=[attrs_validator],
                             help_text=_("Extra attributes after weight=N, e.g. duid=central."))
    max_calls = models.PositiveIntegerField(
        _("maximum calls"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_CALLS)],
        help_text=_("Least-loaded sets only: calls this node takes at most at once (empty: no limit)."))

    scoped_by = ESTATE_WIDE  # voipadmin.scope: the estate's, changed by estate administrators

    class Meta:
        verbose_name = _("dispatcher destination")
        verbose_name_plural = _("dispatcher destinations")
        ordering = ["dispatcher_set", "-priority", "node__name"]
        constraints = [models.UniqueConstraint(fields=["dispatcher_set", "node"], name="dsdest_set_node_unique")]

    def __str__(self) -> str:
        return f"{self.dispatcher_set.name}: {self.node}"

    @property
    def kamailio_attrs(self) -> str:
        return f"weight={self.weight}" + (f";{self.attrs}" if self.attrs else "")

    def clean(self) -> None:
        if self.node_id and len(self.node.sip_uri) > DISPATCHER_URI_MAX:
            raise ValidationError({"node": gettext("Its SIP URI is %(length)s characters; Kamailio's dispatcher "
                                                   "table takes at most %(max)s. Give the node a shorter host name.")
                                   % {"length": len(self.node.sip_uri), "max": DISPATCHER_URI_MAX}})
        load_algorithms = (DispatcherAlgorithm.CALL_LOAD, DispatcherAlgorithm.RELATIVE_WEIGHT)
        algorithm = self.dispatcher_set.algorithm if self.dispatcher_set_id else None
        if self.max_calls is not None and algorithm is not None and algorithm != DispatcherAlgorithm.CALL_LOAD:
            raise ValidationError({"max_calls": gettext("Maximum calls is used only by the least-loaded algorithm "
                                                        "(call load distribution); leave it empty.")})
        if algorithm in load_algorithms:
            keys = {pair.partition("=")[0] for pair in self.attrs.split(";") if pair}
            taken = sorted(keys & set(LOAD_ATTRS))
            if taken:
                raise ValidationError({"attrs": gettext("%(keys)s is written by the portal for this set's "
                                                        "algorithm; remove it from attrs.")
                                       % {"keys": ", ".join(taken)}})


class ServiceCode(models.Model):
    """A code any phone of the estate can dial (``*123`` voicemail...), and where Kamailio sends it."""

    code = models.CharField(_("code"), max_length=16, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=64, validators=[grammar.validate_single_line])
    kind = models.CharField(_("kind"), max_length=16, choices=ServiceKind.choices)
    route_to = models.CharField(_("route to"), max_length=8, choices=RouteTo.choices, default=RouteTo.DISPATCHER_SET)
    dispatcher_set = models.ForeignKey("services.DispatcherSet", verbose_name=_("dispatcher set"),
                                       on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="service_codes")
    node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("node"),
                             on_delete=models.PROTECT, null=True, blank=True,
                             related_name="service_codes")
    announcement = models.CharField(_("announcement"), max_length=24, choices=Announcement.choices, blank=True,
                                    help_text=_("Which announcement (announcement codes only)."))
    parameter = models.CharField(_("parameter"), max_length=64, blank=True, validators=[
        RegexValidator(r"^[A-Za-z0-9_./&@-]*\Z", _("Letters, digits and _ . / & @ - only."))],
                                 help_text=_("Conference room, IVR context, sound file or Dial() targets."))
    enabled = models.BooleanField(_("enabled"), default=True)
    description = models.CharField(_("description"),
                                   max_length=200, blank=True, validators=[grammar.validate_single_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    scoped_by = ESTATE_WIDE  # voipadmin.scope: the estate's, changed by estate administrators

    class Meta:
        ordering = ["code"]
        verbose_name = _("service code")
        verbose_name_plural = _("service codes")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def get_absolute_url(self) -> str:
        return object_url("services:servicecode_detail", self.pk)

    def clean(self) -> None:
        errors = {}
        if self.route_to == RouteTo.DISPATCHER_SET and not self.dispatcher_set_id:
            errors["dispatcher_set"] = gettext("Choose the dispatcher set that serves this code.")
        if self.route_to == RouteTo.NODE and not self.node_id:
            errors["node"] = gettext("Choose the Asterisk node that serves this code.")
        elif self.route_to == RouteTo.NODE and self.kind:
            attrs = node_route_attrs(self.kind, self.node)
            if len(attrs) > DIALPLAN_ATTRS_MAX:  # truncated, Kamailio would send the calls to a wrong URI
                errors["node"] = gettext(
                    "Kamailio's dialplan rule would need %(length)s characters for %(attrs)s (at most %(max)s): "
                    "serve this code through a dispatcher set, or give the node a shorter host name.") % {
                    "length": len(attrs), "attrs": repr(attrs), "max": DIALPLAN_ATTRS_MAX}
        if self.route_to != RouteTo.DISPATCHER_SET:
            self.dispatcher_set = None
        if self.route_to != RouteTo.NODE:
            self.node = None
        if self.kind == ServiceKind.ANNOUNCEMENT and not self.announcement:
            errors["announcement"] = gettext("Choose the announcement to play.")
        if self.kind != ServiceKind.ANNOUNCEMENT:
            self.announcement = ""
        if self.kind in (ServiceKind.IVR, ServiceKind.DOUBLE_DIAL) and not self.parameter:
            errors["parameter"] = (gettext("Give the IVR context.") if self.kind == ServiceKind.IVR
                                   else gettext("Give the Dial() targets, e.g. PJSIP/1001&DAHDI/g1/1001."))
        if errors:
            raise ValidationError(errors)


class InboundNumber(models.Model):
    """A DDI: a number the PSTN reaches the estate on, and who answers it."""

    number = models.CharField(_("number"), max_length=32, unique=True, validators=[number_validator],
                              help_text=_("As the trunk delivers it, e.g. +34911234567."))
    trunk = models.ForeignKey("trunks.Trunk", verbose_name=_("trunk"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="inbound_numbers", help_text=_("The trunk it arrives on (optional)."))
    target = models.CharField(_("target"), max_length=8, choices=InboundTarget.choices, default=InboundTarget.USER)
    user = models.ForeignKey("users.SipUser", verbose_name=_("user"), on_delete=models.PROTECT, null=True, blank=True,
                             related_name="inbound_numbers", help_text=_("The user who answers."))
    service_code = models.ForeignKey("services.ServiceCode", verbose_name=_("service code"),
                                     on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="inbound_numbers")
    enabled = models.BooleanField(_("enabled"), default=True)
    description = models.CharField(_("description"),
                                   max_length=200, blank=True, validators=[grammar.validate_single_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    @staticmethod
    def scoped_by(site_ids, action):
        """A number belongs to the site of the user who answers it, or of the E1 line it arrives on."""
        return Q(user__site__in=site_ids) | Q(trunk__e1trunk__asterisk_node__site__in=site_ids)

    class Meta:
        ordering = ["number"]
        verbose_name = _("inbound number")
        verbose_name_plural = _("inbound numbers")

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return object_url("services:inboundnumber_detail", self.pk)

    @property
    def destination(self) -> str:
        """What Kamailio rewrites the R-URI user to."""
        if self.target == InboundTarget.SERVICE:
            return self.service_code.code if self.service_code_id else ""
        return str(self.user.extension) if self.user_id else ""

    def clean(self) -> None:
        if self.target == InboundTarget.USER:
            self.service_code = None
            if not self.user_id:
                raise ValidationError({"user": gettext("Choose the user who answers.")})
        else:
            self.user = None
            if not self.service_code_id:
                raise ValidationError({"service_code": gettext("Choose the service code (e.g. an IVR).")})


class AsteriskExtension(models.Model):
    """A row of Asterisk's realtime ``extensions`` table (pbx_realtime reads it; columns per the contract).

    Service-code actions keep the rows of every code in every site's context; nothing else in the
    portal writes here yet.
    """

    id = models.BigAutoField(_("ID"), primary_key=True)
    context = models.CharField(_("context"), max_length=40)
    exten = models.CharField(_("exten"), max_length=40)
    priority = models.IntegerField(_("priority"))
    app = models.CharField(_("app"), max_length=40)
    appdata = models.CharField(_("appdata"), max_length=256)

    class Meta:
        db_table = "extensions"
        ordering = ["context", "exten", "priority"]
        verbose_name = _("Asterisk extension row")
        verbose_name_plural = _("Asterisk extension rows")
        constraints = [models.UniqueConstraint(fields=["context", "exten", "priority"],
                                               name="extensions_context_exten_priority")]

    def __str__(self) -> str:
        return f"{self.context},{self.exten},{self.priority}: {self.app}({self.appdata})"
