"""CDRs: Asterisk's exact table, attribution, filters, keyset pages, the streamed CSV, totals."""
from __future__ import annotations

import base64
import csv
import datetime
import io
import json
from pathlib import Path

import pytest
from django.db import connection, connections
from django.http import StreamingHttpResponse

from cdrs.models import Cdr

from .conftest import auth

CONTRACT = Path("/work/shared/contracts/asterisk_realtime.json")
T0 = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.timezone.utc)


def _contract_columns() -> list[dict]:
    data = json.loads(CONTRACT.read_text())
    return data["tables"]["cdr"]["columns"]


def test_the_cdr_table_has_exactly_asterisks_columns(require_postgres):
    with connection.cursor() as cur:
        cur.execute("""SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
                       FROM information_schema.columns WHERE table_name = 'cdr' ORDER BY ordinal_position""")
        actual = {r[0]: r for r in cur.fetchall()}
    expected = _contract_columns()
    assert set(actual) == {c["name"] for c in expected} | {"id"}
    for column in expected:
        name, data_type, length, nullable, default = actual[column["name"]]
        shown = f"{data_type}({length})" if length else data_type
        assert shown == column["type"], column["name"]
        assert (nullable == "YES") == column["nullable"], column["name"]
        assert default == column.get("default"), column["name"]


def test_an_insert_the_way_cdr_pgsql_does_it_works(require_postgres):
    """cdr_pgsql names Asterisk's columns and leaves id to its default; times are local wall times."""
    with connection.cursor() as cur:
        cur.execute("""INSERT INTO cdr (start, answer, "end", clid, src, dst, dcontext, channel, dstchannel,
                       lastapp, lastdata, duration, billsec, disposition, amaflags, accountcode, uniqueid,
                       userfield, peeraccount, linkedid, sequence)
                       VALUES ('2026-11-02 10:00:00', '2026-11-02 10:00:05', '2026-11-02 10:01:05',
                       '"Ann" <2001>', '2001', '600123456', 'site-branch1', 'PJSIP/2001-00000001',
                       'PJSIP/itsp1-00000002', 'Dial', 'PJSIP/itsp1/600123456', 65, 60, 'ANSWERED',
                       'DOCUMENTATION', '', '1700000000.7', '', '', '1700000000.7', 7)""")
    cdr = Cdr.objects.get(uniqueid="1700000000.7")
    assert cdr.start == datetime.datetime(2026, 11, 2, 10, 0, tzinfo=datetime.timezone.utc)
    assert Cdr.objects.filter(start__gte=T0 + datetime.timedelta(minutes=59)).count() == 1


def _cdrs(n: int, **fields) -> list[Cdr]:
    rows = [Cdr(start=T0 + datetime.timedelta(seconds=i // 2), src="2001", dst=f"6{i:08d}",
                dcontext="site-branch1", channel="PJSIP/2001-0001", dstchannel="PJSIP/itsp1-0002",
                billsec=i % 90, duration=i % 90 + 5, disposition="ANSWERED" if i % 3 else "NO ANSWER",
                uniqueid=f"17000.{i}", **fields) for i in range(n)]
    return Cdr.objects.bulk_create(rows)


def test_cursor_pages_walk_every_row_once_newest_first_even_with_equal_times(client, estate, read_key):
    _cdrs(250)  # two rows per second: the (start, id) key must break the ties
    seen, url = [], "/api/v1/cdrs/?limit=100&since=2026-11-01T00:00:00Z&until=2026-11-03T00:00:00Z"
    pages = []
    while url:
        body = client.get(url, **auth(read_key)).json()
        pages.append(body)
        seen += [(r["start"], r["id"]) for r in body["results"]]
        url = body["next"]
    assert len(seen) == 250 and len(set(seen)) == 250
    assert seen == sorted(seen, reverse=True)
    back = client.get(pages[2]["previous"], **auth(read_key)).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in pages[1]["results"]]
    assert pages[0]["previous"] is None


def test_oldest_first_and_only_allow_listed_orderings(client, estate, read_key):
    _cdrs(5)
    rows = client.get("/api/v1/cdrs/?ordering=start&limit=3", **auth(read_key)).json()["results"]
    assert rows[0]["start"] <= rows[1]["start"] <= rows[2]["start"]
    for bad in ("billsec", "-id", "start;DROP TABLE cdr", "(select 1)", "src"):
        response = client.get("/api/v1/cdrs/", {"ordering": bad}, **auth(read_key))
        assert response.status_code == 400, bad
    for bad in ("!!!", "eyJ0IjoieCJ9", ""):
        assert client.get("/api/v1/cdrs/", {"cursor": bad}, **auth(read_key)).status_code in (200, 400)
    assert client.get("/api/v1/cdrs/", {"cursor": "eyJ0IjoieCJ9"}, **auth(read_key)).status_code == 400
    assert client.get("/api/v1/cdrs/", {"limit": "100000"}, **auth(read_key)).status_code == 400


def _forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_forged_cursor_is_a_400_and_every_well_formed_one_an_answer(client, estate, read_key, settings):
    settings.CDR_TIME_ZONE = "Pacific/Kiritimati"  # +14:00: the far end of the calendar overflows in the column's zone
    forged = [
        _forged('{"t":"0001-01-01T00:00:00+14:00","i":1}'),  # the old JSON cursor (year 0 in UTC)
        "n1.2.3", "x1.2", "n1", "n.1", "n1.-2", "n+1.2", "n1.1180591620717411303424", "n1e9.1", " n1.2", "n1.2 ",
        "n1.2\n", "n１.2", "n²0.1", "users:sipuser_detail", "!!!",
    ]
    for cursor in forged:
        response = client.get("/api/v1/cdrs/", {"cursor": cursor}, **auth(read_key))
        assert response.status_code == 400, cursor
        assert response.json() == {"cursor": "Invalid cursor."}, cursor
    # whatever the pattern the schema gives admits is a position: past either end of the calendar, that end
    for cursor, ids in [("n-999999999999999999.1", []), ("p-999999999999999999.1", [estate["cdr"].pk]),
                        ("n999999999999999999.999999999999999999", [estate["cdr"].pk]),
                        ("p999999999999999999.1", []), ("n-62135596800000000.0", []),
                        ("n253402300799999999.1", [estate["cdr"].pk])]:
        response = client.get("/api/v1/cdrs/", {"cursor": cursor}, **auth(read_key))
        assert response.status_code == 200, cursor
        assert [r["id"] for r in response.json()["results"]] == ids, cursor
    good = client.get("/api/v1/cdrs/", {"cursor": f"n{1795996800 * 10**6}.1"}, **auth(read_key))  # 2026-11-30Z
    assert good.status_code == 200 and [r["id"] for r in good.json()["results"]] == [estate["cdr"].pk]


def test_filters_time_site_trunk_numbers_disposition_and_billable_seconds(client, estate, read_key):
    _cdrs(30)
    Cdr.objects.create(start=T0, src="3001", dst="2001", dcontext="from-itsp", accountcode="elsewhere",
                       channel="PJSIP/itsp2-0001", billsec=10, disposition="ANSWERED")

    def ids(**params):
        body = client.get("/api/v1/cdrs/", {"limit": 1000, **params}, **auth(read_key))
        assert body.status_code == 200, body.content
        return body.json()["results"]

    assert len(ids(site="branch1")) == 31  # 30 of the fixture set + the estate's own
    assert {r["site"] for r in ids(site="branch1")} == {"branch1"}
    assert len(ids(src="3001")) == 1 and ids(src="3001")[0]["site"] is None
    assert len(ids(dst="600000007")) == 1
    assert all(r["disposition"] == "NO ANSWER" for r in ids(disposition="NO ANSWER"))
    assert all(r["billsec"] >= 60 for r in ids(min_billsec=60)) and ids(min_billsec=60)
    window = ids(since="2026-11-02T09:00:05Z", until="2026-11-02T09:00:10Z")
    assert len(window) == 10
    assert ids(site="nowhere") == []  # a site that does not exist has no calls (NetBox's answer, not an error)
    assert client.get("/api/v1/cdrs/", {"since": "yesterday"}, **auth(read_key)).status_code == 400


def test_the_csv_export_streams_every_matching_row(client, estate, read_key, monkeypatch):
    monkeypatch.setattr("cdrs.api.views.EXPORT_CHUNK_ROWS", 1000)
    _cdrs(4500)
    Cdr.objects.create(start=T0, src="=HYPERLINK(\"http://evil.invalid\")", dst="+34600111222",
                       clid="@SUM(1+1)", dcontext="site-branch1")
    response = client.get("/api/v1/cdrs/export.csv", {"site": "branch1", "since": "2026-11-01T00:00:00Z"},
                          **auth(read_key))
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    chunks = list(response.streaming_content)
    assert len(chunks) > 3  # streamed in chunks, not built in memory
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    header, data = rows[0], rows[1:]
    assert header[:4] == ["id", "start", "answer", "end"] and header[-3:] == ["site", "trunk", "source"]
    assert len(data) == 4502  # with the estate's own CDR
    evil = next(r for r in data if "HYPERLINK" in r[header.index("src")])
    assert evil[header.index("src")].startswith("'=") and evil[header.index("clid")].startswith("'@")
    assert evil[header.index("dst")] == "+34600111222"
    starts = [r[1] for r in data]
    assert starts == sorted(starts, reverse=True)


def _backend_state(pid: int) -> str:
    """What PostgreSQL says a backend is doing, asked over a connection of its own."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cur:
            cur.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [pid])
            return cur.fetchone()[0]
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_a_stalled_export_holds_no_transaction_open_between_pages(client, estate, read_key, monkeypatch,
                                                                   require_postgres):
    monkeypatch.setattr("cdrs.api.views.EXPORT_CHUNK_ROWS", 10)
    _cdrs(35)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    response = client.get("/api/v1/cdrs/export.csv", **auth(read_key))
    chunks = iter(response.streaming_content)
    received = [next(chunks), next(chunks)]  # the header, then the first page: the client stalls here
    assert _backend_state(pid) == "idle"  # not "idle in transaction": no snapshot, lock or cursor is held
    assert not connection.in_atomic_block
    received += list(chunks)
    rows = list(csv.reader(io.StringIO(b"".join(received).decode())))[1:]
    assert len(rows) == 36 and len({r[0] for r in rows}) == 36  # every row once, across the page boundaries
    keys = [(r[1], int(r[0])) for r in rows]
    assert keys == sorted(keys, reverse=True)


def test_the_csv_export_refuses_bad_filters_with_a_json_400(client, estate, read_key):
    response = client.get("/api/v1/cdrs/export.csv", {"ordering": "billsec"}, **auth(read_key))
    assert response.status_code == 400 and "ordering" in response.json()


def test_totals_per_site_and_trunk_for_a_period(client, estate, read_key):
    _cdrs(9)  # billsec 0..8, disposition NO ANSWER for i % 3 == 0
    Cdr.objects.create(start=T0, src="3001", dst="2001", dcontext="from-itsp", channel="PJSIP/other-0001",
                       billsec=100, duration=110, disposition="ANSWERED")
    body = client.get("/api/v1/cdrs/totals/", {"since": "2026-11-01T00:00:00Z", "until": "2026-11-03T00:00:00Z"},
                      **auth(read_key)).json()
    sites = {row["name"]: row for row in body["sites"]}
    assert sites["branch1"] == {"name": "branch1", "calls": 9, "answered": 6, "duration": 36 + 45, "billsec": 36}
    assert sites[None]["billsec"] == 100
    assert body["since"].startswith("2026-11-01")
    assert sum(r["calls"] for r in body["trunks"]) == 10


def test_the_cdr_list_page_shares_the_filterset(client, estate, dora):
    _cdrs(3)
    client.force_login(dora)
    page = client.get("/cdrs/", {"site": "branch1", "min_billsec": "1"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "600000001" in body and "600000000" not in body  # billsec 0 filtered out
    assert "/api/v1/cdrs/export.csv?site=branch1" in body


def test_helpdesk_cannot_see_cdrs(client, estate, bob):
    client.force_login(bob)
    assert client.get("/cdrs/").status_code == 403
    assert client.get("/api/v1/cdrs/").status_code == 403
