from django.db import models
from django.utils.translation import gettext_lazy as _, pgettext_lazy


class NodeKind(models.TextChoices):
    ASTERISK = "asterisk", "Asterisk"
    KAMAILIO = "kamailio", "Kamailio"


class Health(models.TextChoices):
    """What the last poll learned about a node (``unknown``: never polled yet)."""

    UP = "up", _("Up")
    DEGRADED = "degraded", _("Degraded")
    DOWN = "down", _("Down")
    UNKNOWN = "unknown", _("Unknown")


class TrunkKind(models.TextChoices):
    ITSP = "itsp", _("ITSP registration")
    E1 = "e1", _("E1 span")


class TrunkHealth(models.TextChoices):
    UP = "up", pgettext_lazy("trunk state", "Up")  # registered / span up and no alarm
    PENDING = "pending", _("Registering")
    DOWN = "down", pgettext_lazy("trunk state", "Down")  # registration failed or disabled / span down

    ALARM = "alarm", _("In alarm")


class ExtensionStatus(models.TextChoices):
    """Estate-wide state of one extension, merged from Kamailio and every Asterisk."""

    RINGING = "ringing", _("Ringing")
    IN_USE = "in_use", _("In use")
    IDLE = "idle", _("Idle")
    REGISTERED = "registered", _("Registered")
    UNAVAILABLE = "unavailable", _("Unavailable")


class DestinationHealth(models.TextChoices):
    """A dispatcher destination's state as Kamailio holds it (first letter of ``dispatcher.list`` FLAGS)."""

    ACTIVE = "active", _("Active")  # A: selected for calls
    TRYING = "trying", _("Trying")  # T: missed a keepalive, still selected (inactive after the threshold)
    INACTIVE = "inactive", _("Inactive")  # I: skipped until it answers a keepalive again
    DISABLED = "disabled", _("Disabled")  # D: an administrator took it out (dispatcher.set_state d)
