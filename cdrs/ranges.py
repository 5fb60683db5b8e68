"""The call records page's quick periods (today, yesterday, last 7 days, this month, last month).

Computed from the time of the request, passed in (never read from the clock here), in the portal's time zone:
"today" is the administrator's day, not UTC's. Each period is half-open, ``[since, until)``, like the filters.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: how a bound is written in the page's query string and its ``datetime-local`` inputs (portal time zone)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    since: datetime.datetime
    until: datetime.datetime

    def query(self) -> dict[str, str]:
        return {"since": local_text(self.since), "until": local_text(self.until)}


def local_text(value: datetime.datetime) -> str:
    return timezone.localtime(value).strftime(LOCAL_FORMAT)


def _midnight(day: datetime.date, zone) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)


def quick_periods(now: datetime.datetime, zone: datetime.tzinfo | None = None) -> list[Period]:
    """The quick periods around ``now`` (an aware datetime: the request's time)."""
    zone = zone or timezone.get_current_timezone()
    today = now.astimezone(zone).date()
    first = today.replace(day=1)
    previous_first = (first - datetime.timedelta(days=1)).replace(day=1)
    tomorrow = today + datetime.timedelta(days=1)
    return [
        Period("today", _("Today"), _midnight(today, zone), _midnight(tomorrow, zone)),
        Period("yesterday", _("Yesterday"), _midnight(today - datetime.timedelta(days=1), zone),
               _midnight(today, zone)),
        Period("last7", _("Last 7 days"), _midnight(today - datetime.timedelta(days=6), zone),
               _midnight(tomorrow, zone)),
        Period("this_month", _("This month"), _midnight(first, zone), _midnight(tomorrow, zone)),
        Period("last_month", _("Last month"), _midnight(previous_first, zone), _midnight(first, zone)),

    ]
