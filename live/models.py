"""What the poller last saw on the live estate.

These rows are a cache of the nodes' own state, rewritten by every poll cycle
(``live.actions.record_poll_cycle`` is the only writer).  They are not audited:
nobody changed anything, we only looked.  ``CallSample`` is the exception that
keeps a few days of history for the dashboard chart.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from voipadmin.scope import ESTATE_WIDE, VIEW

from .choices import DestinationHealth, ExtensionStatus, Health, NodeKind, TrunkHealth, TrunkKind


class NodeState(models.Model):
    """One row per polled node: its health, why, and when we last heard from it."""

    kind = models.CharField(_("kind"), max_length=16, choices=NodeKind.choices)
    asterisk_node = models.OneToOneField("sites.AsteriskNode", verbose_name=_("asterisk node"),
                                         on_delete=models.CASCADE, null=True, blank=True,
                                         related_name="live_state")
    kamailio_node = models.OneToOneField("sites.KamailioNode", verbose_name=_("kamailio node"),
                                         on_delete=models.CASCADE, null=True, blank=True,
                                         related_name="live_state")
    state = models.CharField(_("state"), max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    reason = models.CharField(_("reason"), max_length=255, blank=True, help_text="Why the node is degraded or down.")
    latency_ms = models.FloatField(_("latency ms"),
                                   null=True, blank=True, help_text="Round trip of a ping, in milliseconds.")
    uptime_seconds = models.BigIntegerField(_("uptime seconds"), null=True, blank=True)
    version = models.CharField(_("version"), max_length=255, blank=True)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True, help_text="Last time the node answered.")
    last_polled = models.DateTimeField(_("last polled"), null=True, blank=True, help_text="Last time we asked.")
    state_since = models.DateTimeField(_("state since"),
                                       null=True, blank=True, help_text="When the state last changed.")
    ari_state = models.CharField(_("ARI state"), max_length=16, blank=True, choices=Health.choices,
                                 help_text="Whether the Asterisk's ARI answered (empty: the node has no ARI URL).")
    ari_latency_ms = models.FloatField(_("ARI latency (ms)"), null=True, blank=True,
                                       help_text="Round trip of an ARI ping, in milliseconds.")
    watchers = models.IntegerField(_("watchers"), null=True, blank=True,
                                   help_text="Kamailio: live presence subscriptions it holds (active_watchers).")
    publications = models.IntegerField(_("publications"), null=True, blank=True,
                                       help_text="Kamailio: live publications in the shared presence tables; "
                                                 "Asterisk: live publications it sent (empty: not known).")

    @staticmethod
    def scoped_by(site_ids, action):
        """Its sites' Asterisks, and the estate's Kamailio (seen, not changed)."""
        own = Q(asterisk_node__site__in=site_ids)
        return own | Q(kamailio_node__isnull=False) if action == VIEW else own

    class Meta:
        verbose_name = _("node state")
        verbose_name_plural = _("node states")
        constraints = [
            models.CheckConstraint(
                name="nodestate_one_node_of_its_kind",
                condition=(models.Q(kind="asterisk", asterisk_node__isnull=False, kamailio_node__isnull=True)
                           | models.Q(kind="kamailio", kamailio_node__isnull=False, asterisk_node__isnull=True)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.node}: {self.state}"

    @property
    def node(self):
        return self.asterisk_node if self.kind == NodeKind.ASTERISK else self.kamailio_node

    def age_seconds(self, now=None) -> float | None:
        """Seconds since the node last answered (None: never)."""
        if self.last_seen is None:
            return None
        return ((now or timezone.now()) - self.last_seen).total_seconds()


class ActiveCall(models.Model):
    """One channel up on an Asterisk (a two-party call is two channels sharing ``linkedid``)."""

    node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("node"),
                             on_delete=models.CASCADE, related_name="live_calls")
    site = models.ForeignKey("sites.Site", verbose_name=_("site"), on_delete=models.CASCADE, related_name="live_calls")
    channel = models.CharField(_("channel"), max_length=255)
    uniqueid = models.CharField(_("uniqueid"), max_length=64, blank=True)
    linkedid = models.CharField(_("linkedid"), max_length=64, blank=True)
    caller = models.CharField(_("caller"), max_length=80, blank=True)
    caller_name = models.CharField(_("caller name"), max_length=80, blank=True)
    callee = models.CharField(_("callee"), max_length=80, blank=True)
    state = models.CharField(_("state"), max_length=32, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration seconds"), default=0)
    context = models.CharField(_("context"), max_length=80, blank=True)
    application = models.CharField(_("application"), max_length=80, blank=True)
    trunk = models.CharField(_("trunk"), max_length=80, blank=True, help_text="Trunk the channel runs on, if any.")
    seen_at = models.DateTimeField(_("seen at"))

    scoped_by = "site"  # voipadmin.scope

    class Meta:
        verbose_name = _("active call")
        verbose_name_plural = _("active calls")
        ordering = ["node", "linkedid", "channel"]
        indexes = [models.Index(fields=["site", "linkedid"])]
        permissions = [
            ("control_call", "Can hang up calls and ring a user from another extension (click-to-call)"),
            ("listen_in", "Can listen in on calls (ChanSpy, without being heard)"),
        ]

    def __str__(self) -> str:
        return self.channel

    def get_absolute_url(self) -> str:
        return reverse("live:asterisk_node", args=[self.node_id])


class Registration(models.Model):
    """A contact registered with Kamailio (usrloc) or with an Asterisk (PJSIP contact)."""

    kamailio_node = models.ForeignKey("sites.KamailioNode", verbose_name=_("kamailio node"),
                                      on_delete=models.CASCADE, null=True, blank=True,
                                      related_name="live_registrations")
    asterisk_node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("asterisk node"),
                                      on_delete=models.CASCADE, null=True, blank=True,
                                      related_name="live_registrations")
    user = models.CharField(_("user"), max_length=64, db_index=True, help_text="User part of the AoR (the extension).")
    domain = models.CharField(_("domain"), max_length=64, blank=True)
    contact = models.CharField(_("contact"), max_length=512)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    source = models.CharField(_("source"), max_length=128, blank=True, help_text="Address the REGISTER came from.")
    nat = models.BooleanField(_("behind NAT"), default=False, help_text="The contact differs from the source address.")
    expires = models.DateTimeField(_("expires"), null=True, blank=True)
    seen_at = models.DateTimeField(_("seen at"))

    @staticmethod
    def scoped_by(site_ids, action):
        """A contact of one of its sites' users (by extension), or held by one of its sites' Asterisks."""
        from django.apps import apps
        from django.db.models import CharField
        from django.db.models.functions import Cast

        extensions = apps.get_model("users", "SipUser").objects.filter(site__in=site_ids) \
            .annotate(as_text=Cast("extension", CharField())).values("as_text")
        return Q(asterisk_node__site__in=site_ids) | Q(asterisk_node__isnull=True, user__in=extensions)

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["user", "contact"]
        constraints = [
            models.CheckConstraint(
                name="registration_exactly_one_node",
                condition=(models.Q(kamailio_node__isnull=False, asterisk_node__isnull=True)
                           | models.Q(kamailio_node__isnull=True, asterisk_node__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.contact}"

    def get_absolute_url(self) -> str:
        if self.kamailio_node_id:
            return reverse("live:kamailio_node", args=[self.kamailio_node_id])
        return reverse("live:asterisk_node", args=[self.asterisk_node_id])


class DeviceState(models.Model):
    """Asterisk's device state (``DeviceStateList``), e.g. ``PJSIP/1001`` = ``INUSE``."""

    node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("node"),
                             on_delete=models.CASCADE, related_name="live_device_states")
    device = models.CharField(_("device"), max_length=128)
    extension = models.CharField(_("extension"), max_length=64, blank=True, db_index=True,
                                 help_text="Endpoint name of PJSIP/SIP devices (the extension).")
    state = models.CharField(_("state"), max_length=32)

    scoped_by = "node__site"

    class Meta:
        verbose_name = _("device state")
        verbose_name_plural = _("device states")
        ordering = ["node", "device"]

    def __str__(self) -> str:
        return f"{self.device}: {self.state}"


class Bridge(models.Model):
    """A bridge on an Asterisk as ARI lists it: a ConfBridge room (``creator`` ConfBridge) or a call's."""

    node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("node"),
                             on_delete=models.CASCADE, related_name="live_bridges")
    bridge_id = models.CharField(_("bridge ID"), max_length=64)
    name = models.CharField(_("name"), max_length=80, blank=True, help_text="The conference room, for ConfBridge.")
    creator = models.CharField(_("creator"), max_length=80, blank=True, help_text="The application that made it.")
    technology = models.CharField(_("technology"), max_length=32, blank=True)
    channels = models.PositiveIntegerField(_("channels"), default=0, help_text="Channels in it now.")

    scoped_by = "node__site"

    class Meta:
        verbose_name = _("bridge")
        verbose_name_plural = _("bridges")
        ordering = ["node", "name", "bridge_id"]

    def __str__(self) -> str:
        return f"{self.name or self.bridge_id}: {self.channels}"

    @property
    def is_conference(self) -> bool:
        return self.creator == "ConfBridge"


class ExtensionState(models.Model):
    """Asterisk's hint state of a dialplan extension (``ExtensionStateList``)."""

    node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("node"),
                             on_delete=models.CASCADE, related_name="live_extension_states")
    exten = models.CharField(_("exten"), max_length=64, db_index=True)
    context = models.CharField(_("context"), max_length=80, blank=True)
    hint = models.CharField(_("hint"), max_length=255, blank=True)
    status = models.IntegerField(_("status"),
                                 help_text="Asterisk's AST_EXTENSION_* bit mask (-1 removed, -2 deactivated).")
    status_text = models.CharField(_("status text"), max_length=32, blank=True)

    scoped_by = "node__site"

    class Meta:
        verbose_name = _("extension state")
        verbose_name_plural = _("extension states")
        ordering = ["node", "exten"]

    def __str__(self) -> str:
        return f"{self.exten}@{self.context}: {self.status_text}"


class PresenceState(models.Model):
    """The state Kamailio's presence holds for one extension: its live dialog-info publications merged
    (``live.presence``). Rewritten by every full poll cycle, like the rest of this app's rows."""

    extension = models.CharField(_("extension"), max_length=64, unique=True,
                                 help_text="User part of the presentity URI.")
    state = models.CharField(_("state"), max_length=16, choices=ExtensionStatus.choices)
    publications = models.PositiveIntegerField(_("publications"), default=0,
                                               help_text="Live publications of it (every Asterisk, Kamailio).")
    seen_at = models.DateTimeField(_("seen at"))

    @staticmethod
    def scoped_by(site_ids, action):
        """The extension of one of its sites' users (the presence tables are Kamailio's: one for the estate)."""
        return Q(extension__in=_site_extensions(site_ids))

    class Meta:
        verbose_name = _("presence state")
        verbose_name_plural = _("presence states")
        ordering = ["extension"]

    def __str__(self) -> str:
        return f"{self.extension}: {self.state}"


def _site_extensions(site_ids):
    from django.apps import apps
    from django.db.models import CharField
    from django.db.models.functions import Cast

    return apps.get_model("users", "SipUser").objects.filter(site__in=site_ids) \
        .annotate(as_text=Cast("extension", CharField())).values("as_text")


class TrunkState(models.Model):
    """An ITSP registration Kamailio keeps up (``uac.reg_dump``) or an E1 span an Asterisk reports."""

    kind = models.CharField(_("kind"), max_length=8, choices=TrunkKind.choices)
    name = models.CharField(_("name"), max_length=128, help_text="uacreg l_uuid, or the E1 span number.")
    kamailio_node = models.ForeignKey("sites.KamailioNode", verbose_name=_("kamailio node"),
                                      on_delete=models.CASCADE, null=True, blank=True,
                                      related_name="live_trunks")
    asterisk_node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("asterisk node"),
                                      on_delete=models.CASCADE, null=True, blank=True,
                                      related_name="live_trunks")
    site = models.ForeignKey("sites.Site", verbose_name=_("site"),
                             on_delete=models.CASCADE, null=True, blank=True, related_name="live_trunks",
                             help_text="Site of the Asterisk holding an E1 span; empty for ITSP registrations.")
    state = models.CharField(_("state"), max_length=16, choices=TrunkHealth.choices)
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    seen_at = models.DateTimeField(_("seen at"))

    @staticmethod
    def scoped_by(site_ids, action):
        return Q(site__in=site_ids) | Q(site__isnull=True) if action == VIEW else Q(site__in=site_ids)

    class Meta:
        verbose_name = _("trunk state")
        verbose_name_plural = _("trunk states")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}: {self.state}"


class DestinationState(models.Model):
    """A destination of a Kamailio dispatcher set as that Kamailio holds it (``dispatcher.list``): an
    Asterisk of a set or a trunk of a route, active or skipped because it stopped answering its OPTIONS
    keepalive. Kamailio decides failover from this, so the dashboard shows it, not our own guess."""

    kamailio_node = models.ForeignKey("sites.KamailioNode", verbose_name=_("kamailio node"), on_delete=models.CASCADE,
                                      related_name="live_destinations")
    setid = models.PositiveIntegerField(_("setid"),
                                        help_text="Dispatcher set: 1-999 the portal's sets, 1000+ PSTN routes.")
    uri = models.CharField(_("URI"), max_length=255)
    asterisk_node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("asterisk node"),
                                      on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="live_destinations", help_text="The node with this SIP URI.")
    state = models.CharField(_("state"), max_length=16, choices=DestinationHealth.choices)
    probing = models.BooleanField(_("probing"), default=False, help_text="Kamailio sends it OPTIONS keepalives.")
    flags = models.CharField(_("flags"),
                             max_length=8, blank=True, help_text="As dispatcher.list shows them, e.g. AP, IP.")
    priority = models.IntegerField(_("priority"), default=0)
    attrs = models.CharField(_("attrs"), max_length=255, blank=True)
    since = models.DateTimeField(_("since"), help_text="When the poller first saw it in this state.")
    seen_at = models.DateTimeField(_("seen at"))

    scoped_by = ESTATE_WIDE

    class Meta:
        verbose_name = _("destination state")
        verbose_name_plural = _("destination states")
        ordering = ["kamailio_node", "setid", "-priority", "uri"]
        constraints = [models.UniqueConstraint(fields=["kamailio_node", "setid", "uri"],
                                               name="destinationstate_one_per_set_uri")]

    def __str__(self) -> str:
        return f"set {self.setid} {self.uri}: {self.state}"

    @property
    def target(self) -> str:
        """What the destination is: the Asterisk node, the trunk a route names in its attrs, else the URI."""
        if self.asterisk_node_id and self.asterisk_node:
            trunk = self.trunk_name
            return f"{self.asterisk_node.name} (E1 {trunk})" if trunk else self.asterisk_node.name
        return self.trunk_name or self.uri

    @property
    def trunk_name(self) -> str:
        for pair in self.attrs.split(";"):
            key, _, value = pair.partition("=")
            if key.strip() == "trunk":
                return value.strip()
        return ""

    @property
    def health(self) -> str:
        """The node-health word the dashboard colours by (active = up, trying = degraded, ...)."""
        return {DestinationHealth.ACTIVE: Health.UP, DestinationHealth.TRYING: Health.DEGRADED,
                DestinationHealth.INACTIVE: Health.DOWN}.get(self.state, "disabled")


class CallSampleQuerySet(models.QuerySet):
    def older_than(self, days: int, *, now: datetime | None = None) -> "CallSampleQuerySet":
        return self.filter(minute__lt=(now or timezone.now()) - timedelta(days=days))


class CallSample(models.Model):
    """Peak concurrent calls of a site within one minute: the dashboard chart's history."""

    site = models.ForeignKey("sites.Site", verbose_name=_("site"),
                             on_delete=models.CASCADE, related_name="call_samples")
    minute = models.DateTimeField(_("minute"), help_text="Start of the minute (UTC, seconds zeroed).")
    calls = models.PositiveIntegerField(_("calls"), default=0)

    objects = CallSampleQuerySet.as_manager()

    scoped_by = "site"

    class Meta:
        verbose_name = _("call sample")
        verbose_name_plural = _("call samples")
        ordering = ["minute"]
        constraints = [models.UniqueConstraint(fields=["site", "minute"], name="callsample_one_per_site_minute")]
        indexes = [models.Index(fields=["minute"])]

    def __str__(self) -> str:
        return f"{self.site_id} {self.minute:%Y-%m-%d %H:%M}: {self.calls}"
