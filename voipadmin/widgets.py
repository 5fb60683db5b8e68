"""Form widgets shared by the portal's pages."""
from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime


class PeriodInput(forms.DateTimeInput):
    """The browser's date-and-time picker for a period's bound (``?since=`` / ``?until=``).

    The picker's value has no offset and is read in the portal's time zone; a bound written as ISO 8601 with
    an offset (the API's ``…Z``, a pasted link) is shown converted to that zone, so the picker shows it.
    """

    input_type = "datetime-local"

    def format_value(self, value):
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else value
            if isinstance(parsed, datetime.datetime) and timezone.is_aware(parsed):
                parsed = timezone.localtime(parsed)
        except (ValueError, OverflowError):  # not a time, or beyond the calendar here: shown as typed
            parsed = None
        if not isinstance(parsed, datetime.datetime):
            return value or None
        return parsed.strftime("%Y-%m-%dT%H:%M:%S" if parsed.second else "%Y-%m-%dT%H:%M")
