from django.db import models
from django.utils.translation import gettext_lazy as _


class DispatcherAlgorithm(models.IntegerChoices):
    """Kamailio ds_select_dst algorithms offered per set.

    Kamailio keeps a set's destinations sorted by priority (highest first). Only PRIORITY (8) selects by it:
    always the first active destination, the next one on failure. The others spread calls over every active
    destination and ignore priorities, which then only order the failover list. Inactive destinations
    (OPTIONS keepalive unanswered) are skipped by every algorithm.
    """

    HASH_CALLID = 0, _("Hash over Call-ID")
    HASH_FROM = 1, _("Hash over From URI")
    HASH_TO = 2, _("Hash over To URI")
    HASH_RURI = 3, _("Hash over Request-URI")
    ROUND_ROBIN = 4, _("Round robin")
    PRIORITY = 8, _("First by priority (failover)")
    WEIGHT = 9, _("Weight-based")


class ServiceKind(models.TextChoices):
    VOICEMAIL = "voicemail", _("Voicemail")
    CONFERENCE = "conference", _("Conference rooms")
    ECHO = "echo", _("Echo test")
    IVR = "ivr", _("IVR / auto-attendant")
    ANNOUNCEMENT = "announcement", _("Announcement")
    DOUBLE_DIAL = "double_dial", _("Double dial")


class RouteTo(models.TextChoices):
    DISPATCHER_SET = "set", _("A dispatcher set")
    NODE = "node", _("One Asterisk node")
    HOME = "home", _("The caller's home site")


class Announcement(models.TextChoices):
    USER_UNAVAILABLE = "user_unavailable", _("User unavailable")
    SERVICE_UNAVAILABLE = "service_unavailable", _("Service unavailable")
    RINGBACK = "ringback", _("Ringback")


class InboundTarget(models.TextChoices):
    USER = "user", _("A user (extension)")
    SERVICE = "service", _("A service code (IVR, conference, ...)")
