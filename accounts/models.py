"""What the portal keeps about a log-in account beyond Django's ``auth.User``.

One row per account that has any of it; an account without a row is estate-wide, speaks the browser's
language and sees times in the portal's (or its site's) time zone, and has no second factor.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from voipadmin.fields import EncryptedTextField


class AccountProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("user"),
                                on_delete=models.CASCADE, primary_key=True,
                                related_name="profile")
    # Denormalised from ``sites`` so that an estate-wide account costs no query to know it is one: the
    # profile is loaded with the account itself (accounts.backends), the sites only when limited.
    site_limited = models.BooleanField(
        _("site limited"), default=False,
        help_text=_("Limited to the sites below: sees and changes only their users, nodes, trunks, "
                    "numbers and call records. Estate-wide objects stay with estate administrators."))
    sites = models.ManyToManyField("sites.Site", verbose_name=_("sites"), blank=True, related_name="+")
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES,
                                help_text=_("Empty: the browser's language."))
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True,
                                 help_text=_("Empty: the account's site's time zone, else the portal's."))
    # Two-factor login (TOTP, RFC 6238). The secret is encrypted with the credentials key; recovery codes are
    # stored as hashes and each works once.
    totp_secret = EncryptedTextField(_("totp secret"), blank=True)
    totp_confirmed_at = models.DateTimeField(_("totp confirmed at"), null=True, blank=True)
    totp_last_step = models.BigIntegerField(_("totp last step"),
                                            default=0, help_text="Last accepted time step: a code works once.")
    recovery_codes = models.JSONField(_("recovery codes"), default=list, blank=True)

    audit_exclude_fields = ("totp_secret", "totp_last_step", "recovery_codes")

    class Meta:
        verbose_name = _("account profile")
        verbose_name_plural = _("account profiles")
        default_permissions = ()

    def __str__(self) -> str:
        return str(self.user)

    @property
    def two_factor_enabled(self) -> bool:
        return bool(self.totp_confirmed_at and self.totp_secret)

    def _site_rows(self) -> list[tuple[int, str]]:
        rows = getattr(self, "_site_rows_cache", None)
        if rows is None:  # one query a request serves both the scope and the time zone
            rows = self._site_rows_cache = list(self.sites.values_list("pk", "time_zone"))
        return rows

    def site_scope(self) -> frozenset[int] | None:
        """The ids of the sites this account is limited to, or None for the whole estate."""
        if not self.site_limited:
            return None
        return frozenset(pk for pk, _tz in self._site_rows())

    def effective_time_zone(self) -> str:
        """The account's own zone; else, for a site-limited account, its sites' zone if they share one."""
        if self.time_zone:
            return self.time_zone
        if self.site_limited:
            zones = {tz for _pk, tz in self._site_rows()}
            if len(zones) == 1:
                return zones.pop()
        return ""
