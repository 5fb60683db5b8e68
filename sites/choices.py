from django.db import models


class SiteKind(models.TextChoices):
    CENTRAL = "central", "Central site"
    DELEGATION = "delegation", "Delegation"


class NodeRole(models.TextChoices):
    PBX = "pbx", "PBX"
    VOICEMAIL = "voicemail", "Voicemail"
    CONFERENCE = "conference", "Conference"
    GATEWAY = "gateway", "E1 gateway"
    MEDIA = "media", "Media services"
