"""The call records both CDR benchmarks fill their databases with (bench/cdr_api.py, bench/production.py).

Generated inside PostgreSQL with ``INSERT … SELECT generate_series`` (a million rows in seconds, nothing
through Python): Asterisk CDRs every 2 s from 2026-01-01, 3 in 4 answered, over 5 sites and 3 ITSP trunks;
Kamailio's dialog records (``acc_cdrs``, the calls it rang on phones) every 20 s between them, 3 in 4
answered 3 s after the INVITE, the others refused with 486. ``execute`` is any DB-API style
``execute(sql, params)`` with ``%s`` placeholders (a psycopg connection or a Django cursor).
"""
from __future__ import annotations

from typing import Any, Callable

ASTERISK_CDRS = """
    INSERT INTO cdr (start, answer, "end", clid, src, dst, dcontext, channel, dstchannel, lastapp,
                     lastdata, duration, billsec, disposition, amaflags, accountcode, uniqueid,
                     userfield, peeraccount, linkedid, sequence)
    SELECT ts, CASE WHEN i %% 4 <> 0 THEN ts + interval '5 seconds' END,
           ts + ((i %% 600) + 5) * interval '1 second',
           '"User ' || (1000 + i %% 5000) || '" <' || (1000 + i %% 5000) || '>',
           (1000 + i %% 5000)::text, '6' || lpad((i %% 100000000)::text, 8, '0'),
           'site-site' || (i %% 5), 'PJSIP/' || (1000 + i %% 5000) || '-' || lpad(to_hex(i), 8, '0'),
           'PJSIP/itsp' || (i %% 3) || '-' || lpad(to_hex(i + 1), 8, '0'), 'Dial',
           'PJSIP/itsp' || (i %% 3) || '/6' || lpad((i %% 100000000)::text, 8, '0'),
           (i %% 600) + 5, CASE WHEN i %% 4 <> 0 THEN i %% 600 ELSE 0 END,
           CASE WHEN i %% 4 <> 0 THEN 'ANSWERED' WHEN i %% 8 = 0 THEN 'BUSY' ELSE 'NO ANSWER' END,
           'DOCUMENTATION', '', '1760000000.' || i, '', '', '1760000000.' || i, i
    FROM (SELECT i, timestamp '2026-01-01 00:00:00' + i * interval '2 seconds' AS ts
          FROM generate_series(1, %s) AS i) AS g
"""

# acc cdr_extra columns; a refused call has end = start and duration 0
KAMAILIO_RECORDS = """
    INSERT INTO acc_cdrs (start_time, end_time, duration, src_user, site, dst_user, callid, sip_code,
                          sip_reason, answer_time)
    SELECT ts, CASE WHEN i %% 4 <> 0 THEN ts + ((i %% 600) + 5) * interval '1 second' ELSE ts END,
           CASE WHEN i %% 4 <> 0 THEN (i %% 600) + 5.25 ELSE 0 END,
           (1000 + i %% 5000)::text, 'site' || (i %% 5), (1000 + (i * 7) %% 5000)::text,
           'kam-' || i || '@bench.test', CASE WHEN i %% 4 = 0 THEN '486' END,
           CASE WHEN i %% 4 = 0 THEN 'Busy Here' END,
           CASE WHEN i %% 4 <> 0 THEN ts + interval '3 seconds' ELSE timestamp '1970-01-01' END
    FROM (SELECT i, timestamp '2026-01-01 00:00:01' + i * interval '20 seconds' AS ts
          FROM generate_series(1, %s) AS i) AS g
"""


def fill(execute: Callable[[str, Any], Any], rows: int, kamailio_rows: int) -> None:
    """Replace both tables' rows (together: acc_cdrs numbers its records from cdr's sequence, one id space)."""
    execute("TRUNCATE cdr, acc_cdrs RESTART IDENTITY", None)
    execute(ASTERISK_CDRS, [rows])
    execute(KAMAILIO_RECORDS, [kamailio_rows])
    execute("ANALYZE cdr", None)
    execute("ANALYZE acc_cdrs", None)
