"""Date, time and number formats for Spanish: day/month/year, 24-hour clock to the second, the zone labelled,
decimal comma and thousands point — as the estate's staff write them.

Django's own ``es`` formats ("30 de noviembre de 2026 a las 14:05") would win over the settings, so the ones
pages use are replaced here, as for English (``voipadmin/formats/en/formats.py``). Input formats take ISO 8601
first: the browser's date and date-time pickers send and show that whatever the language, and a date typed
the Spanish way (30/11/2026) is read too.
"""
DATETIME_FORMAT = "d/m/Y H:i:s T"
SHORT_DATETIME_FORMAT = "d/m/Y H:i:s T"
DATE_FORMAT = "d/m/Y"
SHORT_DATE_FORMAT = "d/m/Y"
TIME_FORMAT = "H:i:s"
MONTH_DAY_FORMAT = "d/m"
YEAR_MONTH_FORMAT = "m/Y"
FIRST_DAY_OF_WEEK = 1  # Monday

DATE_INPUT_FORMATS = [
    "%Y-%m-%d",  # 2026-11-30 (the date picker)
    "%d/%m/%Y",  # 30/11/2026
    "%d/%m/%y",  # 30/11/26
]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S",  # 2026-11-30 14:05:09
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",  # the date-time picker
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M:%S",  # 30/11/2026 14:05:09
    "%d/%m/%Y %H:%M:%S.%f",
    "%d/%m/%Y %H:%M",
    "%d/%m/%y %H:%M:%S",
    "%d/%m/%y %H:%M",
]
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
