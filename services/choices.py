from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _


class DispatcherAlgorithm(models.IntegerChoices):
    """Kamailio ds_select_dst algorithms offered per set.

    Kamailio keeps a set's destinations sorted by priority (highest first). Only PRIORITY (8) selects by it:
    always the first active destination, the next one on failure. The others spread calls over every active
    destination and ignore priorities, which then only order the failover list. Inactive destinations
    (OPTIONS keepalive unanswered) are skipped by every algorithm.

    CALL_LOAD (10) and RELATIVE_WEIGHT (11) route media servers by load. 10: Kamailio counts each destination's
    calls itself (its attrs ``duid=<node>;maxload=<max calls>``, written by services.projection; kamailio.cfg
    route[SERVICES] / onreply / failure / BYE keep the count) and sends a new call to the least loaded one.
    11: like WEIGHT (9) but shares are ``rweight`` (the destination's weight) among the *active* destinations
    only, so a node going down or drained spreads its share over the others in proportion. Left out: 5
    (authorization user), 6 (random), 7 (hash over a variable) add nothing to 0-4 here; 12 (parallel fork to
    every node) would answer one call on several Asterisks; 13 (latency) tracks OPTIONS latency, not calls.
    """

    HASH_CALLID = 0, _("Hash over Call-ID")
    HASH_FROM = 1, _("Hash over From URI")
    HASH_TO = 2, _("Hash over To URI")
    HASH_RURI = 3, _("Hash over Request-URI")
    ROUND_ROBIN = 4, _("Round robin")
    PRIORITY = 8, _("First by priority (failover)")
    WEIGHT = 9, _("Weight-based")
    CALL_LOAD = 10, _("Least loaded (call load distribution)")
    RELATIVE_WEIGHT = 11, _("Relative weight among active nodes")


#: What each algorithm does, for an administrator (the set form's and the API's help on ``algorithm``).
ALGORITHM_HELP = {
    DispatcherAlgorithm.HASH_CALLID: _("Hashes: the same Call-ID, From, To or dialled number always reaches the "
                                       "same active node."),
    DispatcherAlgorithm.ROUND_ROBIN: _("Round robin: each call to the next active node in turn."),
    DispatcherAlgorithm.PRIORITY: _("First by priority: every call to the active node with the highest priority, "
                                    "the next one if it fails."),
    DispatcherAlgorithm.WEIGHT: _("Weight-based: each node takes its weight as a percentage of the calls "
                                  "(weights should add up to 100)."),
    DispatcherAlgorithm.CALL_LOAD: _("Least loaded: Kamailio counts each node's calls in progress and sends a new "
                                     "call to the node with fewest; a node at its maximum calls gets none until "
                                     "one ends."),
    DispatcherAlgorithm.RELATIVE_WEIGHT: _("Relative weight: calls shared in proportion to the weights of the "
                                           "nodes that are up; a node that goes down gives its share to the "
                                           "others."),
}
#: the same as one paragraph (model/API help of ``DispatcherSet.algorithm``)
ALGORITHM_HELP_TEXT = format_lazy(" ".join(["{}"] * len(ALGORITHM_HELP)), *ALGORITHM_HELP.values())


class ServiceKind(models.TextChoices):
    """What a code does. ``rooms`` and ``application`` are run by the application service (media app, over
    ARI): the node's static ``[va-app]`` hands the call over, and the service reads what the code means from
    the database when the call arrives. ``conference`` and ``ivr`` are the static-dialplan forms (ConfBridge
    room by name, a dialplan context written on the node)."""

    VOICEMAIL = "voicemail", _("Voicemail")
    CONFERENCE = "conference", _("Conference (ConfBridge, static)")
    ROOMS = "rooms", _("Conference rooms (asks for the room number)")
    APPLICATION = "application", _("Application (a room, menu or AGI application)")
    ECHO = "echo", _("Echo test")
    IVR = "ivr", _("IVR (dialplan context on the node)")
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
