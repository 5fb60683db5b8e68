"""Asterisk's ``cdr`` table, exactly as ``cdr_pgsql`` / ``cdr_adaptive_odbc`` write it.

The columns are Asterisk's (see /work/shared/contracts/asterisk_realtime.json); the only
addition is the ``id`` key, which Asterisk leaves to its default. Site and trunk are not
stored: they are derived when queried (see ``cdrs.attribution``), so nothing has to
rewrite a row Asterisk wrote and a renamed trunk is attributed correctly at once.
"""
from __future__ import annotations

from django.db import models

from .fields import NaiveDateTimeField


class Disposition(models.TextChoices):
    ANSWERED = "ANSWERED", "Answered"
    NO_ANSWER = "NO ANSWER", "No answer"
    BUSY = "BUSY", "Busy"
    FAILED = "FAILED", "Failed"
    CONGESTION = "CONGESTION", "Congestion"


def _text(length: int) -> models.CharField:
    return models.CharField(max_length=length, null=True, blank=True)


class Cdr(models.Model):
    id = models.BigAutoField(primary_key=True)
    accountcode = _text(80)
    src = _text(80)
    dst = _text(80)
    dcontext = _text(80)
    clid = _text(80)
    channel = _text(80)
    dstchannel = _text(80)
    lastapp = _text(80)
    lastdata = _text(80)
    start = NaiveDateTimeField(null=True, blank=True)
    answer = NaiveDateTimeField(null=True, blank=True)
    end = NaiveDateTimeField(null=True, blank=True)
    duration = models.IntegerField(null=True, blank=True)
    billsec = models.IntegerField(null=True, blank=True)
    disposition = models.CharField(max_length=45, null=True, blank=True)
    amaflags = _text(45)
    userfield = _text(256)
    uniqueid = _text(150)
    linkedid = _text(150)
    peeraccount = _text(80)
    sequence = models.IntegerField(null=True, blank=True)

    class Meta:
        db_table = "cdr"
        ordering = ["-start", "-id"]
        verbose_name = "CDR"
        verbose_name_plural = "CDRs"
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

    def __str__(self) -> str:
        return f"{self.src or '?'} → {self.dst or '?'} at {self.start:%Y-%m-%d %H:%M:%S}" if self.start else \
            f"CDR {self.pk}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("cdrs:cdr_list") + f"?uniqueid={self.uniqueid or ''}"
