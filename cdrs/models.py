"""Call records: Asterisk's ``cdr`` table, and the merged list billing reads (``CallRecord``).

``Cdr`` is Asterisk's ``cdr`` table exactly as ``cdr_pgsql`` / ``cdr_adaptive_odbc`` write it (the
columns are Asterisk's, see /work/shared/contracts/asterisk_realtime.json; the only addition is the
``id`` key, which Asterisk leaves to its default).

``CallRecord`` is the database view ``call_record`` (migration 0003): every row of ``cdr`` plus every
row Kamailio's acc module wrote into ``acc_cdrs`` for a call it relayed straight to a registered phone
(from a phone, or a carrier's call to a DDI) without an Asterisk, in ``cdr``'s columns, with ``source``
saying which system wrote it. A call is recorded by exactly one of them (Kamailio marks only calls that
never reach an Asterisk), so nothing is counted twice. Site and trunk are not stored: they are derived
when queried (see ``cdrs.attribution``), so nothing has to rewrite a row Asterisk or Kamailio wrote and a
renamed trunk is attributed correctly at once.
"""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _, pgettext_lazy

from .fields import NaiveDateTimeField


class Disposition(models.TextChoices):
    ANSWERED = "ANSWERED", _("Answered")
    NO_ANSWER = "NO ANSWER", _("No answer")
    BUSY = "BUSY", _("Busy")
    FAILED = "FAILED", _("Failed")
    CONGESTION = "CONGESTION", _("Congestion")


#: a record's disposition in a table cell: Asterisk's own word in English, its translation in other languages
DISPOSITION_CELLS = {
    "ANSWERED": pgettext_lazy("disposition as Asterisk writes it", "ANSWERED"),
    "NO ANSWER": pgettext_lazy("disposition as Asterisk writes it", "NO ANSWER"),
    "BUSY": pgettext_lazy("disposition as Asterisk writes it", "BUSY"),
    "FAILED": pgettext_lazy("disposition as Asterisk writes it", "FAILED"),
    "CONGESTION": pgettext_lazy("disposition as Asterisk writes it", "CONGESTION"),
}


def disposition_label(value) -> str:
    """``value`` (``ANSWERED`` ...) for a table cell; anything else as it is."""
    cell = DISPOSITION_CELLS.get(value) if isinstance(value, str) else None
    return str(cell) if cell is not None else ("" if value is None else str(value))



def _text(length: int, verbose_name) -> models.CharField:
    return models.CharField(verbose_name, max_length=length, null=True, blank=True)


class Source(models.TextChoices):
    ASTERISK = "asterisk", "Asterisk (cdr)"
    KAMAILIO = "kamailio", "Kamailio (acc_cdrs)"


def _site_calls(site_ids, action):
    """voipadmin.scope: the calls of the given sites, by the same rule as cdrs.attribution.site_q (one query)."""
    from django.apps import apps
    from django.db.models import CharField, Q, Value
    from django.db.models.functions import Concat

    from .attribution import SITE_CONTEXT_PREFIX

    sites = apps.get_model("sites", "Site").objects.filter(pk__in=site_ids)
    contexts = sites.annotate(context=Concat(Value(SITE_CONTEXT_PREFIX), "slug", output_field=CharField())) \
        .values("context")
    return Q(dcontext__in=contexts) | (Q(accountcode__in=sites.values("slug"))
                                       & ~Q(dcontext__startswith=SITE_CONTEXT_PREFIX))


class CdrColumns(models.Model):
    """Asterisk's CDR columns, shared by the table and the merged view."""

    id = models.BigAutoField(_("ID"), primary_key=True)
    accountcode = _text(80, _("accountcode"))
    src = _text(80, _("src"))
    dst = _text(80, _("dst"))
    dcontext = _text(80, _("dcontext"))
    clid = _text(80, _("clid"))
    channel = _text(80, _("channel"))
    dstchannel = _text(80, _("dstchannel"))
    lastapp = _text(80, _("lastapp"))
    lastdata = _text(80, _("lastdata"))
    start = NaiveDateTimeField(_("start"), null=True, blank=True)
    answer = NaiveDateTimeField(_("answer"), null=True, blank=True)
    end = NaiveDateTimeField(_("end"), null=True, blank=True)
    duration = models.IntegerField(_("duration"), null=True, blank=True)
    billsec = models.IntegerField(_("billsec"), null=True, blank=True)
    disposition = models.CharField(_("disposition"), max_length=45, null=True, blank=True)
    amaflags = _text(45, _("amaflags"))
    userfield = _text(256, _("userfield"))
    uniqueid = _text(150, _("uniqueid"))
    linkedid = _text(150, _("linkedid"))
    peeraccount = _text(80, _("peeraccount"))
    sequence = models.IntegerField(_("sequence"), null=True, blank=True)

    scoped_by = staticmethod(_site_calls)  # voipadmin.scope: a delegation sees its own calls

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.src or '?'} → {self.dst or '?'} at {self.start:%Y-%m-%d %H:%M:%S}" if self.start else \
            f"CDR {self.pk}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("cdrs:cdr_list") + f"?uniqueid={self.uniqueid or ''}"


class Cdr(CdrColumns):
    class Meta:
        db_table = "cdr"
        ordering = ["-start", "-id"]
        verbose_name = _("CDR")
        verbose_name_plural = _("CDRs")
        default_permissions = ("view",)  # Asterisk writes CDRs; nobody edits them
        indexes = [
            # Keyset pagination and time-range filters walk this index in both directions.
            models.Index(fields=["start", "id"], name="cdr_start_id_idx"),
            # Site attribution (dcontext "site-<slug>" or accountcode) and number filters.
            models.Index(fields=["dcontext", "start"], name="cdr_dcontext_start_idx"),
            models.Index(fields=["accountcode", "start"], name="cdr_accountcode_start_idx"),
            models.Index(fields=["src", "start"], name="cdr_src_start_idx"),
            models.Index(fields=["dst", "start"], name="cdr_dst_start_idx"),
            # Trunk attribution matches channel name prefixes ("PJSIP/<trunk>-…") with LIKE 'x%'.
            models.Index(fields=["dstchannel"], name="cdr_dstchannel_like_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["channel"], name="cdr_channel_like_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["peeraccount"], name="cdr_peeraccount_idx"),
        ]


class CallRecord(CdrColumns):
    """A call as billing sees it: a row of Asterisk's ``cdr`` or of Kamailio's ``acc_cdrs`` (view ``call_record``).

    Kamailio's rows read as Asterisk would have written them: ``src``/``dst`` the caller (extension, or a
    carrier's caller ID) and the extension rung, ``accountcode`` the call's site (the caller's home site; for
    a carrier's call the rung user's), ``peeraccount`` a carrier's trunk (``dcontext`` NULL: no dialplan ran),
    ``uniqueid``/``linkedid`` the SIP Call-ID, ``disposition`` from the answer or the final SIP reply
    (486/600 BUSY; 403/404/410/484/604/5xx FAILED; otherwise NO ANSWER), ``billsec`` from answer to end.
    ``id`` is unique across both sources (one sequence), so ``(start, id)`` pages the merged list.
    """

    source = models.CharField(_("source"), max_length=8, choices=Source.choices)

    class Meta:
        managed = False
        db_table = "call_record"
        ordering = ["-start", "-id"]
        verbose_name = _("call record")
        verbose_name_plural = _("call records")

        default_permissions = ("view",)  # written by Asterisk and Kamailio; nobody edits them


class Cel(models.Model):
    """Asterisk's ``cel`` table (Channel Event Logging), as ``cel_pgsql`` writes it: column names are Asterisk's.

    Why it is here: Asterisk's CDR of a conference leg ends when the caller enters the ConfBridge bridge
    (seen on 22.10.1: a caller 6 s in a room gets billsec 2, the join prompts), so ``CallRecord`` takes the
    leg's talk time from the channel's ANSWER and HANGUP events instead (the nodes log only those,
    ``deploy/asterisk/templates/cel.conf``). Free-text columns are ``text``: cel_pgsql does not shorten
    what it writes, and an event refused by the database would be lost.
    """

    id = models.BigAutoField(_("ID"), primary_key=True)
    eventtype = models.CharField(_("eventtype"), max_length=30)
    eventtime = NaiveDateTimeField(_("eventtime"))
    userdeftype = models.TextField(_("userdeftype"), null=True, blank=True)
    cid_name = models.TextField(_("caller ID name"), null=True, blank=True)
    cid_num = models.TextField(_("caller ID number"), null=True, blank=True)
    cid_ani = models.TextField(_("caller ID ANI"), null=True, blank=True)
    cid_rdnis = models.TextField(_("caller ID RDNIS"), null=True, blank=True)
    cid_dnid = models.TextField(_("caller ID DNID"), null=True, blank=True)
    exten = models.TextField(_("exten"), null=True, blank=True)
    context = models.TextField(_("context"), null=True, blank=True)
    channame = models.TextField(_("channame"), null=True, blank=True)
    appname = models.TextField(_("appname"), null=True, blank=True)
    appdata = models.TextField(_("appdata"), null=True, blank=True)
    amaflags = models.IntegerField(_("amaflags"), null=True, blank=True)
    accountcode = models.TextField(_("accountcode"), null=True, blank=True)
    peeraccount = models.TextField(_("peeraccount"), null=True, blank=True)
    uniqueid = models.CharField(_("uniqueid"), max_length=150)
    linkedid = models.CharField(_("linkedid"), max_length=150, null=True, blank=True)
    userfield = models.TextField(_("userfield"), null=True, blank=True)
    peer = models.TextField(_("peer"), null=True, blank=True)
    extra = models.TextField(_("extra"), null=True, blank=True)

    class Meta:
        db_table = "cel"
        verbose_name = _("channel event")
        verbose_name_plural = _("channel events")
        default_permissions = ("view",)  # Asterisk writes them; nobody edits them
        indexes = [models.Index(fields=["uniqueid", "eventtype"], name="cel_uniqueid_eventtype_idx")]

    def __str__(self) -> str:
        return f"{self.eventtype} {self.channame or ''} at {self.eventtime:%Y-%m-%d %H:%M:%S}"
