from django.db import models
from django.utils.translation import gettext_lazy as _


class TrunkKind(models.TextChoices):
    E1 = "e1", _("E1")
    ITSP = "itsp", _("ITSP (SIP)")


class E1Signalling(models.TextChoices):
    PRI_CPE = "pri_cpe", _("PRI CPE (user side)")
    PRI_NET = "pri_net", _("PRI NET (network side)")
    BRI_CPE = "bri_cpe", _("BRI CPE")
    BRI_NET = "bri_net", _("BRI NET")


class SwitchType(models.TextChoices):
    EUROISDN = "euroisdn", _("EuroISDN")
    QSIG = "qsig", _("Q.SIG")
    NATIONAL = "national", _("National ISDN 2")
    NI1 = "ni1", _("National ISDN 1")
    DMS100 = "dms100", _("Nortel DMS100")
    ATT4ESS = "4ess", _("AT&T 4ESS")
    LUCENT5E = "5ess", _("Lucent 5ESS")


class E1Role(models.TextChoices):
    PSTN = "pstn", _("PSTN")
    LEGACY_PBX = "legacy_pbx", _("Legacy PBX")


class Transport(models.TextChoices):
    UDP = "udp", _("UDP")
    TCP = "tcp", _("TCP")
    TLS = "tls", _("TLS")


class ItspAuth(models.TextChoices):
    IP = "ip", _("By source IP (Kamailio address table)")
    REGISTRATION = "registration", _("By registration (Kamailio uacreg table)")


class CallerIdPresentation(models.TextChoices):
    ALLOWED = "allowed", _("Present the caller's number")
    TRUNK_NUMBER = "trunk_number", _("Present the trunk's main number")
    RESTRICTED = "restricted", _("Withhold (CLIR)")


class RouteKind(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency")
    NATIONAL = "national", _("National")
    MOBILE = "mobile", _("Mobile")
    INTERNATIONAL = "international", _("International")
    SPECIAL = "special", _("Special / premium")
    OTHER = "other", _("Other")
