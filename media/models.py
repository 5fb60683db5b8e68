"""Media applications as portal objects, and what the application service reports about them.

Rooms, menus and AGI applications are reached through a service code of kind "application" (one object per
code) or, for rooms, through a "conference rooms" code that asks the caller for the room number. The
application service (media/service) reads these rows when a call arrives, so a change applies to the next
call with no Asterisk reload. Announcements are stored in the shared database (every portal host can serve
them) and fetched by each Asterisk over HTTP (res_http_media_cache), never copied by hand.
"""
from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from services.choices import Announcement as AnnouncementPurpose
from voipadmin import grammar
from voipadmin.paths import object_url
from voipadmin.scope import ESTATE_WIDE

room_number_validator = RegexValidator(r"^[0-9]{1,10}\Z", _("A room number is 1 to 10 digits."))
pin_validator = RegexValidator(r"^[0-9]{0,12}\Z", _("A PIN is up to 12 digits."))
sound_name_validator = RegexValidator(r"^[A-Za-z0-9_/-]*\Z",
                                      _("An Asterisk sound name: letters, digits, _ / - (e.g. demo-congrats)."))
agi_script_validator = RegexValidator(r"^[A-Za-z0-9_./-]*\Z", _("Letters, digits and _ . / - only."))
agi_token_validator = RegexValidator(r"^[A-Za-z0-9_.-]*\Z", _("Letters, digits and _ . - only."))


def _site_or_estate(site_ids, action):
    """Estate-wide rows (no site) are visible to every account, changed only by estate administrators."""
    if action == "view":
        return Q(site__in=site_ids) | Q(site__isnull=True)
    return Q(site__in=site_ids)


class Announcement(models.Model):
    """An uploaded sound ("locución"), converted to what Asterisk plays (WAV, 8 kHz, mono, 16-bit)."""

    name = models.CharField(_("name"), max_length=64, unique=True, validators=[grammar.validate_single_line])
    site = models.ForeignKey("sites.Site", verbose_name=_("site"), on_delete=models.PROTECT, null=True, blank=True,
                             related_name="announcements", help_text=_("Empty: usable by every site."))
    description = models.CharField(_("description"), max_length=200, blank=True,
                                   validators=[grammar.validate_single_line])
    audio = models.BinaryField(_("audio"), editable=False)
    sha256 = models.CharField(_("SHA-256"), max_length=64, editable=False)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0, editable=False)
    original_name = models.CharField(_("uploaded file"), max_length=200, blank=True, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    scoped_by = staticmethod(_site_or_estate)
    audit_exclude_fields = ("audio",)  # (its sha256 says the sound changed; the log holds no megabytes)

    class Meta:
        ordering = ["name"]
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return object_url("media:announcement_detail", self.pk)


class SiteAnnouncement(models.Model):
    """Which uploaded announcement a site plays for a purpose (no site: the estate's default)."""

    site = models.ForeignKey("sites.Site", verbose_name=_("site"), on_delete=models.CASCADE, null=True, blank=True,
                             related_name="site_announcements", help_text=_("Empty: every site without its own."))
    purpose = models.CharField(_("purpose"), max_length=24, choices=AnnouncementPurpose.choices)
    announcement = models.ForeignKey("media.Announcement", verbose_name=_("announcement"),
                                     on_delete=models.PROTECT, related_name="uses")

    scoped_by = staticmethod(_site_or_estate)

    class Meta:
        ordering = ["site", "purpose"]
        verbose_name = _("site announcement")
        verbose_name_plural = _("site announcements")
        constraints = [
            models.UniqueConstraint(fields=["site", "purpose"], name="media_siteannouncement_site_purpose"),
            models.UniqueConstraint(fields=["purpose"], condition=Q(site__isnull=True),
                                    name="media_siteannouncement_estate_purpose"),
        ]

    def __str__(self) -> str:
        return f"{self.site or _('estate')}: {self.get_purpose_display()}"

    def get_absolute_url(self) -> str:
        return object_url("media:siteannouncement_detail", self.pk)


class ConferenceProfile(models.Model):
    """How a room behaves; a room without one uses its site's default profile, then the built-in defaults."""

    name = models.CharField(_("name"), max_length=64, unique=True, validators=[grammar.validate_single_line])
    site_default = models.OneToOneField("sites.Site", verbose_name=_("default for site"), on_delete=models.SET_NULL,
                                        null=True, blank=True, related_name="default_conference_profile",
                                        help_text=_("Rooms of this site without a profile of their own use it."))
    max_members = models.PositiveSmallIntegerField(_("maximum members"), default=20,
                                                   validators=[MinValueValidator(2), MaxValueValidator(500)])
    announce_join_leave = models.BooleanField(_("announce joins and leaves"), default=False)
    announce_only_member = models.BooleanField(_("tell the first caller they are alone"), default=True)
    record = models.BooleanField(_("record"), default=False,
                                 help_text=_("Record the room's mixed audio on the node that hosts it."))
    join_announcement = models.ForeignKey("media.Announcement", verbose_name=_("join announcement"),
                                          on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                          help_text=_("Played to each caller before joining."))
    description = models.CharField(_("description"), max_length=200, blank=True,
                                   validators=[grammar.validate_single_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    scoped_by = ESTATE_WIDE

    class Meta:
        ordering = ["name"]
        verbose_name = _("conference profile")
        verbose_name_plural = _("conference profiles")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return object_url("media:conferenceprofile_detail", self.pk)


class ConferenceRoom(models.Model):
    """A room of a site: the same number on two sites is two rooms."""

    site = models.ForeignKey("sites.Site", verbose_name=_("site"), on_delete=models.PROTECT,
                             related_name="conference_rooms")
    number = models.CharField(_("room number"), max_length=10, validators=[room_number_validator],
                              help_text=_("What a caller keys after a conference rooms code, e.g. 800."))
    name = models.CharField(_("name"), max_length=64, validators=[grammar.validate_single_line])
    pin = models.CharField(_("PIN"), max_length=12, blank=True, validators=[pin_validator],
                           help_text=_("Empty: no PIN asked."))
    profile = models.ForeignKey("media.ConferenceProfile", verbose_name=_("profile"), on_delete=models.PROTECT,
                                null=True, blank=True, related_name="rooms",
                                help_text=_("Empty: the site's default profile."))
    service_code = models.OneToOneField("services.ServiceCode", verbose_name=_("service code"),
                                        on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="conference_room",
                                        help_text=_("An application code that reaches this room directly."))
    enabled = models.BooleanField(_("enabled"), default=True)
    description = models.CharField(_("description"), max_length=200, blank=True,
                                   validators=[grammar.validate_single_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    scoped_by = "site"
    audit_secret_fields = ("pin",)

    class Meta:
        ordering = ["site", "number"]
        verbose_name = _("conference room")
        verbose_name_plural = _("conference rooms")
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="media_room_site_number")]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def get_absolute_url(self) -> str:
        return object_url("media:conferenceroom_detail", self.pk)


class IvrMenu(models.Model):
    """An auto-attendant menu: a prompt, a wait for one key, where each key goes. Menus can nest."""

    site = models.ForeignKey("sites.Site", verbose_name=_("site"), on_delete=models.PROTECT,
                             related_name="ivr_menus", help_text=_("Its open hours follow this site's time zone."))
    name = models.CharField(_("name"), max_length=64, validators=[grammar.validate_single_line])
    prompt = models.ForeignKey("media.Announcement", verbose_name=_("prompt"), on_delete=models.PROTECT,
                               null=True, blank=True, related_name="+", help_text=_("An uploaded announcement."))
    prompt_sound = models.CharField(_("built-in prompt"), max_length=64, blank=True,
                                    validators=[sound_name_validator],
                                    help_text=_("Or an Asterisk sound by name, when no announcement is chosen."))
    timeout = models.PositiveSmallIntegerField(_("timeout (s)"), default=5,
                                               validators=[MinValueValidator(1), MaxValueValidator(60)],
                                               help_text=_("How long to wait for a key after the prompt."))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=3,
                                                validators=[MinValueValidator(1), MaxValueValidator(5)],
                                                help_text=_("Prompts played before the timeout or invalid "
                                                            "destination is taken."))
    after_hours_menu = models.ForeignKey("self", verbose_name=_("after-hours menu"), on_delete=models.SET_NULL,
                                         null=True, blank=True, related_name="+",
                                         help_text=_("Used outside the open hours (empty: always this menu)."))
    service_code = models.OneToOneField("services.ServiceCode", verbose_name=_("service code"),
                                        on_delete=models.SET_NULL, null=True, blank=True, related_name="ivr_menu",
                                        help_text=_("An application code that reaches this menu."))
    enabled = models.BooleanField(_("enabled"), default=True)
    description = models.CharField(_("description"), max_length=200, blank=True,
                                   validators=[grammar.validate_single_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    scoped_by = "site"

    class Meta:
        ordering = ["site", "name"]
        verbose_name = _("IVR menu")
        verbose_name_plural = _("IVR menus")
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="media_menu_site_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return object_url("media:ivrmenu_detail", self.pk)


class MenuHours(models.Model):
    """A menu is open on these weekdays and times (site's time zone); a menu with none is always open."""

    menu = models.ForeignKey("media.IvrMenu", verbose_name=_("menu"), on_delete=models.CASCADE,
                             related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), validators=[MaxValueValidator(6)],
                                               help_text=_("0 Monday ... 6 Sunday."))
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    scoped_by = "menu__site"

    class Meta:
        ordering = ["menu", "weekday", "opens"]
        verbose_name = _("open hours")
        verbose_name_plural = _("open hours")


class MenuKey(models.TextChoices):
    TIMEOUT = "timeout", _("No key (timeout)")
    INVALID = "invalid", _("A key with no option (invalid)")


class MenuAction(models.TextChoices):
    EXTENSION = "extension", _("Ring an extension")
    MENU = "menu", _("Another menu")
    ROOM = "room", _("A conference room")
    VOICEMAIL = "voicemail", _("Leave a voicemail")
    SERVICE_CODE = "service_code", _("A service code")
    NUMBER = "number", _("An external number (PSTN routes)")
    AGI = "agi", _("An AGI application")
    REPEAT = "repeat", _("Play the menu again")
    HANGUP = "hangup", _("Hang up")


class MenuOption(models.Model):
    """Where a key takes the caller: ``0``-``9``, ``*``, ``#``, or the menu's timeout / invalid option."""

    menu = models.ForeignKey("media.IvrMenu", verbose_name=_("menu"), on_delete=models.CASCADE,
                             related_name="options")
    key = models.CharField(_("key"), max_length=8, validators=[
        RegexValidator(r"^([0-9*#]|timeout|invalid)\Z", _("A key is 0-9, * or #, or timeout / invalid."))])
    action = models.CharField(_("action"), max_length=16, choices=MenuAction.choices)
    value = models.CharField(_("number"), max_length=32, blank=True,
                             validators=[RegexValidator(r"^\+?[0-9]*\Z", _("Digits, with an optional +."))],
                             help_text=_("The extension, mailbox or external number."))
    target_menu = models.ForeignKey("media.IvrMenu", verbose_name=_("target menu"), on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    room = models.ForeignKey("media.ConferenceRoom", verbose_name=_("room"), on_delete=models.PROTECT,
                             null=True, blank=True, related_name="+")
    service_code = models.ForeignKey("services.ServiceCode", verbose_name=_("service code"),
                                     on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    agi = models.ForeignKey("media.AgiApplication", verbose_name=_("AGI application"), on_delete=models.PROTECT,
                            null=True, blank=True, related_name="+")

    scoped_by = "menu__site"

    class Meta:
        ordering = ["menu", "key"]
        verbose_name = _("menu option")
        verbose_name_plural = _("menu options")
        constraints = [models.UniqueConstraint(fields=["menu", "key"], name="media_menuoption_menu_key")]

    def __str__(self) -> str:
        return f"{self.key}: {self.get_action_display()}"


class AgiStrategy(models.TextChoices):
    FAILOVER = "failover", _("In order (failover)")
    ROUND_ROBIN = "round_robin", _("Shared (start at a random server)")


class AgiApplication(models.Model):
    """An application a FastAGI server runs (``AGI(agi://host:port/script?...)``), with its servers."""

    name = models.CharField(_("name"), max_length=64, unique=True, validators=[grammar.validate_single_line])
    site = models.ForeignKey("sites.Site", verbose_name=_("site"), on_delete=models.PROTECT, null=True, blank=True,
                             related_name="agi_applications", help_text=_("Empty: the estate's."))
    app_type = models.CharField(_("application type"), max_length=32, default="generic",
                                validators=[agi_token_validator], help_text=_("Sent as X-AGI-AppType / agi arg."))
    app_id = models.CharField(_("application ID"), max_length=64, validators=[agi_token_validator],
                              help_text=_("Sent to the server as the appid argument (X-AGI-AppID)."))
    script = models.CharField(_("script"), max_length=128, blank=True, validators=[agi_script_validator],
                              help_text=_("The path after agi://host:port/, e.g. ivr/main."))
    strategy = models.CharField(_("strategy"), max_length=16, choices=AgiStrategy.choices,
                                default=AgiStrategy.FAILOVER)
    service_code = models.OneToOneField("services.ServiceCode", verbose_name=_("service code"),
                                        on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="agi_application",
                                        help_text=_("An application code that reaches it."))
    enabled = models.BooleanField(_("enabled"), default=True)
    description = models.CharField(_("description"), max_length=200, blank=True,
                                   validators=[grammar.validate_single_line])
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    scoped_by = staticmethod(_site_or_estate)

    class Meta:
        ordering = ["name"]
        verbose_name = _("AGI application")
        verbose_name_plural = _("AGI applications")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return object_url("media:agiapplication_detail", self.pk)


def _server_scope(site_ids, action):
    if action == "view":
        return Q(application__site__in=site_ids) | Q(application__site__isnull=True)
    return Q(application__site__in=site_ids)


class AgiServer(models.Model):
    """One FastAGI server of an application; tried in ``position`` order."""

    application = models.ForeignKey("media.AgiApplication", verbose_name=_("AGI application"),
                                    on_delete=models.CASCADE, related_name="servers")
    host = models.CharField(_("host"), max_length=253, validators=[grammar.validate_network_host])
    port = models.PositiveIntegerField(_("port"), default=4573,
                                       validators=[MinValueValidator(1), MaxValueValidator(65535)])
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    enabled = models.BooleanField(_("enabled"), default=True)

    scoped_by = staticmethod(_server_scope)

    class Meta:
        ordering = ["application", "position", "host", "port"]
        verbose_name = _("AGI server")
        verbose_name_plural = _("AGI servers")
        constraints = [models.UniqueConstraint(fields=["application", "host", "port"],
                                               name="media_agiserver_app_host_port")]

    def __str__(self) -> str:
        return f"agi://{self.host}:{self.port}"


# --- what the application service reports (written by media/service, read by the dashboard) --------------------


class AppServiceInstance(models.Model):
    """One running ``run_media_apps`` process: its ARI connections and when it last heard from a node."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    hostname = models.CharField(_("host"), max_length=253, blank=True)
    pid = models.PositiveIntegerField(_("PID"), default=0)
    started = models.DateTimeField(_("started"))
    heartbeat = models.DateTimeField(_("last heartbeat"))
    connected_nodes = models.JSONField(_("connected nodes"), default=list, blank=True)
    last_event = models.DateTimeField(_("last event"), null=True, blank=True)
    calls_handled = models.PositiveBigIntegerField(_("calls handled"), default=0)

    scoped_by = ESTATE_WIDE

    class Meta:
        ordering = ["name"]
        verbose_name = _("application service instance")
        verbose_name_plural = _("application service instances")

    def __str__(self) -> str:
        return self.name


class ActiveRoom(models.Model):
    """A room in use: the node whose ARI bridge holds it (its home until the last member leaves)."""

    room = models.OneToOneField("media.ConferenceRoom", verbose_name=_("room"), on_delete=models.CASCADE,
                                related_name="active")
    node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("node"), on_delete=models.CASCADE,
                             related_name="active_rooms")
    bridge_id = models.CharField(_("bridge"), max_length=128)
    members = models.PositiveIntegerField(_("members"), default=0)
    instance = models.CharField(_("application service"), max_length=64, blank=True)
    started = models.DateTimeField(_("started"))

    scoped_by = "room__site"

    class Meta:
        ordering = ["room"]
        verbose_name = _("active room")
        verbose_name_plural = _("active rooms")


class MenuCall(models.Model):
    """A call the application service holds in a menu right now."""

    channel_id = models.CharField(_("channel"), max_length=128, unique=True)
    node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("node"), on_delete=models.CASCADE,
                             related_name="menu_calls")
    menu = models.ForeignKey("media.IvrMenu", verbose_name=_("menu"), on_delete=models.CASCADE,
                             related_name="calls")
    caller = models.CharField(_("caller"), max_length=80, blank=True)
    instance = models.CharField(_("application service"), max_length=64, blank=True)
    started = models.DateTimeField(_("started"))

    scoped_by = "menu__site"

    class Meta:
        ordering = ["started"]
        verbose_name = _("call in a menu")
        verbose_name_plural = _("calls in menus")
