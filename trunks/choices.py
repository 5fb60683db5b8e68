from django.db import models


class TrunkKind(models.TextChoices):
    E1 = "e1", "E1"
    ITSP = "itsp", "ITSP (SIP)"


class E1Signalling(models.TextChoices):
    PRI_CPE = "pri_cpe", "PRI CPE (user side)"
    PRI_NET = "pri_net", "PRI NET (network side)"
    BRI_CPE = "bri_cpe", "BRI CPE"
    BRI_NET = "bri_net", "BRI NET"


class SwitchType(models.TextChoices):
    EUROISDN = "euroisdn", "EuroISDN"
    QSIG = "qsig", "Q.SIG"
    NATIONAL = "national", "National ISDN 2"
    NI1 = "ni1", "National ISDN 1"
    DMS100 = "dms100", "Nortel DMS100"
    ATT4ESS = "4ess", "AT&T 4ESS"
    LUCENT5E = "5ess", "Lucent 5ESS"


class E1Role(models.TextChoices):
    PSTN = "pstn", "PSTN"
    LEGACY_PBX = "legacy_pbx", "Legacy PBX"


class Transport(models.TextChoices):
    UDP = "udp", "UDP"
    TCP = "tcp", "TCP"
    TLS = "tls", "TLS"


class ItspAuth(models.TextChoices):
    IP = "ip", "By source IP (Kamailio address table)"
    REGISTRATION = "registration", "By registration (Kamailio uacreg table)"


class CallerIdPresentation(models.TextChoices):
    ALLOWED = "allowed", "Present the caller's number"
    TRUNK_NUMBER = "trunk_number", "Present the trunk's main number"
    RESTRICTED = "restricted", "Withhold (CLIR)"


class RouteKind(models.TextChoices):
    EMERGENCY = "emergency", "Emergency"
    NATIONAL = "national", "National"
    MOBILE = "mobile", "Mobile"
    INTERNATIONAL = "international", "International"
    SPECIAL = "special", "Special / premium"
    OTHER = "other", "Other"
