from django.db import models


class DispatcherAlgorithm(models.IntegerChoices):
    """Kamailio ds_select_dst algorithms offered per set.

    Kamailio keeps a set's destinations sorted by priority (highest first). Only PRIORITY (8) selects by it:
    always the first active destination, the next one on failure. The others spread calls over every active
    destination and ignore priorities, which then only order the failover list. Inactive destinations
    (OPTIONS keepalive unanswered) are skipped by every algorithm.
    """

    HASH_CALLID = 0, "Hash over Call-ID"
    HASH_FROM = 1, "Hash over From URI"
    HASH_TO = 2, "Hash over To URI"
    HASH_RURI = 3, "Hash over Request-URI"
    ROUND_ROBIN = 4, "Round robin"
    PRIORITY = 8, "First by priority (failover)"
    WEIGHT = 9, "Weight-based"


class ServiceKind(models.TextChoices):
    VOICEMAIL = "voicemail", "Voicemail"
    CONFERENCE = "conference", "Conference rooms"
    ECHO = "echo", "Echo test"
    IVR = "ivr", "IVR / auto-attendant"
    ANNOUNCEMENT = "announcement", "Announcement"
    DOUBLE_DIAL = "double_dial", "Double dial"


class RouteTo(models.TextChoices):
    DISPATCHER_SET = "set", "A dispatcher set"
    NODE = "node", "One Asterisk node"
    HOME = "home", "The caller's home site"


class Announcement(models.TextChoices):
    USER_UNAVAILABLE = "user_unavailable", "User unavailable"
    SERVICE_UNAVAILABLE = "service_unavailable", "Service unavailable"
    RINGBACK = "ringback", "Ringback"


class InboundTarget(models.TextChoices):
    USER = "user", "A user (extension)"
    SERVICE = "service", "A service code (IVR, conference, ...)"
