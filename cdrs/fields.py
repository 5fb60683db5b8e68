from __future__ import annotations

import datetime
import functools
import zoneinfo

from django.conf import settings
from django.db import models
from django.utils import timezone


def cdr_zone() -> zoneinfo.ZoneInfo:
    return _zone(getattr(settings, "CDR_TIME_ZONE", "UTC"))


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


class NaiveDateTimeField(models.DateTimeField):
    """Asterisk's ``timestamp without time zone`` column, read and written as aware datetimes.

    Asterisk writes its local wall time (``CDR_TIME_ZONE``); Python code only ever sees aware
    values, and a filter such as ``start__gte=<aware>`` is converted to that wall time.
    """

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return "timestamp without time zone"
        return super().db_type(connection)

    def from_db_value(self, value, expression, connection):
        if isinstance(value, datetime.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=cdr_zone())  # zoneinfo resolves DST folds like make_aware
        return value

    def get_prep_value(self, value):
        value = self.to_python(value)
        if isinstance(value, datetime.datetime):
            if timezone.is_aware(value):
                value = timezone.make_naive(value, cdr_zone())
            return value
        return value

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if connection.vendor == "postgresql" or value is None:
            return value
        return connection.ops.adapt_datetimefield_value(value)
