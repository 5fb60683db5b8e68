from django.db import models
from django.utils.translation import gettext_lazy as _


class SiteKind(models.TextChoices):
    CENTRAL = "central", _("Central site")
    DELEGATION = "delegation", _("Delegation")


class NodeRole(models.TextChoices):
    PBX = "pbx", "PBX"
    VOICEMAIL = "voicemail", _("Voicemail")
    CONFERENCE = "conference", _("Conference")
    GATEWAY = "gateway", _("E1 gateway")
    MEDIA = "media", _("Media services")
