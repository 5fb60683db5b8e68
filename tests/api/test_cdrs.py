"""CDRs: Asterisk's exact table, attribution, filters, keyset pages, the streamed CSV, totals."""
from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path

from django.db import connection
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
    assert client.get("/api/v1/cdrs/", {"site": "nowhere"}, **auth(read_key)).status_code == 400
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
