from django.db import models


class NodeKind(models.TextChoices):
    ASTERISK = "asterisk", "Asterisk"
    KAMAILIO = "kamailio", "Kamailio"


class Health(models.TextChoices):
    """What the last poll learned about a node (``unknown``: never polled yet)."""

    UP = "up", "Up"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"


class TrunkKind(models.TextChoices):
    ITSP = "itsp", "ITSP registration"
    E1 = "e1", "E1 span"


class TrunkHealth(models.TextChoices):
    UP = "up", "Up"  # registered / span up and no alarm
    PENDING = "pending", "Registering"
    DOWN = "down", "Down"  # registration failed or disabled / span down
    ALARM = "alarm", "In alarm"


class ExtensionStatus(models.TextChoices):
    """Estate-wide state of one extension, merged from Kamailio and every Asterisk."""

    RINGING = "ringing", "Ringing"
    IN_USE = "in_use", "In use"
    IDLE = "idle", "Idle"
    REGISTERED = "registered", "Registered"
    UNAVAILABLE = "unavailable", "Unavailable"


class DestinationHealth(models.TextChoices):
    """A dispatcher destination's state as Kamailio holds it (first letter of ``dispatcher.list`` FLAGS)."""

    ACTIVE = "active", "Active"  # A: selected for calls
    TRYING = "trying", "Trying"  # T: missed a keepalive, still selected (inactive after the threshold)
    INACTIVE = "inactive", "Inactive"  # I: skipped until it answers a keepalive again
    DISABLED = "disabled", "Disabled"  # D: an administrator took it out (dispatcher.set_state d)
