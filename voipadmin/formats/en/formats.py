"""Date and time formats for English, which the portal speaks: ISO 8601's order, 24-hour clock, to the second,
and the zone labelled (a moment is in the account's or the site's zone, so the reader must be told which).

Django's own ``en`` formats ("Nov. 30, 2026, 2:05 p.m.") would win over the settings (localisation is
always on), so they are replaced here. Templates write ``{{ value }}`` or ``value|date:"DATETIME_FORMAT"``,
never a format of their own; the API keeps ISO 8601 (DRF's default). Spanish: ``voipadmin/formats/es``.
"""
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
MONTH_DAY_FORMAT = "m-d"
YEAR_MONTH_FORMAT = "Y-m"
