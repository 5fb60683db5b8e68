"""Every call in one list: Asterisk's ``cdr`` and Kamailio's ``acc_cdrs`` through /api/v1/cdrs/ (view ``call_record``).

Kamailio's rows are written here the way its acc module writes them (dialog-based CDRs with the portal's
``cdr_extra`` columns; tests/asterisk/test_call_records.py has Kamailio write them for real). The API must
show them in Asterisk's terms, with the same filters, pages, CSV and totals, each call once.
"""
from __future__ import annotations

import csv
import datetime
import io

from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdrs.models import CallRecord, Cdr, Cel
from voipadmin.kamailio.models import AccCdr

from .conftest import auth

T0 = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.timezone.utc)
# Kamailio writes its local wall time (run with TZ = CDR_TIME_ZONE, UTC here); Django's session zone is UTC.


def acc(seconds: int = 0, *, answered_after: int | None = 1, talk: float = 30.4, src: str = "2001",
        dst: str = "2002", site: str | None = "branch1", sip_code: str | None = None, callid: str | None = None,
        trunk: str | None = None) -> AccCdr:
    """An acc_cdrs row as Kamailio writes it: answered (start=INVITE, answer, end=BYE) or failed (end = start)."""
    start = T0 + datetime.timedelta(seconds=seconds)
    if answered_after is None:
        end, duration, answer = start, 0.0, None
    else:
        answer = start + datetime.timedelta(seconds=answered_after)
        duration = answered_after + talk
        end = start + datetime.timedelta(seconds=int(duration))
    return AccCdr.objects.create(start_time=start, end_time=end, duration=duration, src_user=src, dst_user=dst,
                                 site=site, trunk=trunk, callid=callid or f"call-{seconds}-{src}@127.0.0.100",
                                 sip_code=sip_code, sip_reason=None, answer_time=answer)


def get(client, key, path="/api/v1/cdrs/", **params):
    response = client.get(path, {"limit": 1000, **params}, **auth(key))
    assert response.status_code == 200, response.content
    return response


def rows(client, key, **params) -> list[dict]:
    return get(client, key, **params).json()["results"]


def test_a_call_kamailio_relayed_between_phones_reads_like_an_asterisk_cdr(client, estate, read_key):
    row = acc(answered_after=4, talk=61.6, callid="abc@127.0.0.100")
    [record] = rows(client, read_key, source="kamailio")
    assert record == {
        "id": row.cdr_id, "start": "2026-11-02T09:00:00Z", "answer": "2026-11-02T09:00:04Z",
        "end": "2026-11-02T09:01:05Z", "src": "2001", "dst": "2002", "clid": "2001", "dcontext": None,
        "channel": None, "dstchannel": None, "lastapp": None, "lastdata": None, "duration": 66, "billsec": 61,
        "disposition": "ANSWERED", "amaflags": None, "accountcode": "branch1", "peeraccount": None,
        "userfield": None, "uniqueid": "abc@127.0.0.100", "linkedid": "abc@127.0.0.100", "sequence": None,
        "source": "kamailio", "site": "branch1", "trunk": None}
    assert rows(client, read_key, source="asterisk")[0]["source"] == "asterisk"  # the estate's own CDR


def test_unanswered_calls_get_asterisks_dispositions_from_the_final_reply(client, estate, read_key):
    for i, code in enumerate(["486", "600", "480", "487", "408", None, "404", "503", "603"]):
        acc(i, answered_after=None, sip_code=code, src=f"20{10 + i}")
    got = {r["src"]: (r["disposition"], r["billsec"], r["duration"], r["answer"])
           for r in rows(client, read_key, source="kamailio")}
    assert got == {
        "2010": ("BUSY", 0, 0, None), "2011": ("BUSY", 0, 0, None), "2012": ("NO ANSWER", 0, 0, None),
        "2013": ("NO ANSWER", 0, 0, None), "2014": ("NO ANSWER", 0, 0, None), "2015": ("NO ANSWER", 0, 0, None),
        "2016": ("FAILED", 0, 0, None), "2017": ("FAILED", 0, 0, None), "2018": ("NO ANSWER", 0, 0, None)}
    assert {r["src"] for r in rows(client, read_key, disposition="BUSY")} == {"2010", "2011"}


def test_ids_are_unique_across_both_sources_and_cursor_pages_walk_them_in_order(client, estate, read_key):
    for i in range(120):  # the same seconds in both tables: (start, id) must still be a total order
        Cdr.objects.create(start=T0 + datetime.timedelta(seconds=i // 3), src="2001", dst=f"6{i:08d}",
                           dcontext="site-branch1", billsec=5, disposition="ANSWERED", uniqueid=f"ast.{i}")
        acc(i // 3, src="2003")
    ids = list(CallRecord.objects.values_list("id", flat=True))
    assert len(ids) == 241 and len(set(ids)) == 241  # + the estate's own CDR
    for ordering in ("-start", "start"):
        seen, url = [], f"/api/v1/cdrs/?limit=50&ordering={ordering}"
        while url:
            body = client.get(url, **auth(read_key)).json()
            seen += [(r["start"], r["id"], r["source"]) for r in body["results"]]
            url = body["next"]
        assert len(seen) == 241 and len({s[1] for s in seen}) == 241
        keys = [(s[0], s[1]) for s in seen]
        assert keys == sorted(keys, reverse=ordering == "-start")
        assert {s[2] for s in seen} == {"asterisk", "kamailio"}


def test_filters_apply_to_kamailios_records_too(client, estate, read_key):
    a = acc(0, talk=90, src="2001", dst="2002", site="branch1", callid="one@x")
    acc(10, talk=5, src="2005", dst="2001", site="branch1")
    acc(20, answered_after=None, sip_code="486", src="4001", dst="2001", site="elsewhere")
    acc(86400 * 3, src="2001", dst="2009")  # outside the period

    def srcs(**params):
        return sorted((r["src"], r["dst"]) for r in rows(client, read_key, source="kamailio",
                                                        since="2026-11-01T00:00:00Z", until="2026-11-03T00:00:00Z",
                                                        **params))

    assert srcs() == [("2001", "2002"), ("2005", "2001"), ("4001", "2001")]
    assert srcs(site="branch1") == [("2001", "2002"), ("2005", "2001")]
    assert srcs(src="2001") == [("2001", "2002")] and srcs(dst="2001") == [("2005", "2001"), ("4001", "2001")]
    assert srcs(min_billsec=60) == [("2001", "2002")] and srcs(disposition="BUSY") == [("4001", "2001")]
    assert srcs(accountcode="elsewhere") == [("4001", "2001")] and srcs(uniqueid="one@x") == [("2001", "2002")]
    assert srcs(trunk="itsp1") == []  # a call from a phone used no trunk
    acc(30, src="+34600000077", dst="2001", trunk="itsp1")  # a carrier's call Kamailio rang on a phone
    assert srcs(trunk="itsp1") == [("+34600000077", "2001")]
    [carrier] = rows(client, read_key, source="kamailio", src="+34600000077")
    assert (carrier["trunk"], carrier["peeraccount"], carrier["site"]) == ("itsp1", "itsp1", "branch1")
    assert [r["id"] for r in rows(client, read_key, uniqueid="one@x")] == [a.cdr_id]
    assert client.get("/api/v1/cdrs/", {"source": "freeswitch"}, **auth(read_key)).status_code == 400


def test_the_csv_export_and_the_totals_include_kamailios_records(client, estate, read_key):
    acc(0, answered_after=2, talk=40.2, src="2001")
    acc(5, answered_after=None, sip_code="486", src="2004")
    body = b"".join(get(client, read_key, "/api/v1/cdrs/export.csv", site="branch1").streaming_content).decode()
    lines = list(csv.DictReader(io.StringIO(body)))
    kamailio = sorted((r["src"], r["disposition"], r["billsec"], r["site"]) for r in lines if r["source"] == "kamailio")
    assert kamailio == [("2001", "ANSWERED", "40", "branch1"), ("2004", "BUSY", "0", "branch1")]
    assert [r["source"] for r in lines].count("asterisk") == 1  # the estate's own CDR
    answered = next(r for r in lines if r["src"] == "2001" and r["source"] == "kamailio")
    assert (answered["start"], answered["answer"], answered["end"]) == (
        "2026-11-02T09:00:00Z", "2026-11-02T09:00:02Z", "2026-11-02T09:00:42Z")

    totals = get(client, read_key, "/api/v1/cdrs/totals/", since="2026-11-01T00:00:00Z").json()
    assert {r["name"]: (r["calls"], r["answered"], r["billsec"]) for r in totals["sites"]} == {
        "branch1": (3, 2, 60 + 40)}  # the estate's CDR (60 s) and Kamailio's two records


def test_a_conference_leg_is_billed_from_its_channel_events(client, estate, read_key):
    """Asterisk's CDR of a ConfBridge leg ends when the caller enters the bridge; its ANSWER and HANGUP
    channel events (cel) say how long the caller stayed."""
    start = T0
    cdr = Cdr.objects.create(start=start, answer=start, end=start, duration=0, billsec=0, src="2001", dst="*125",
                             dcontext="site-branch1", channel="PJSIP/kamailio-1-00000001", lastapp="ConfBridge",
                             lastdata="estate", disposition="ANSWERED", uniqueid="ast-central.7")
    for kind, offset in (("ANSWER", 0.3), ("HANGUP", 10.4)):  # usegmtime: UTC, like the CDR here
        Cel.objects.create(eventtype=kind, eventtime=start + datetime.timedelta(seconds=offset),
                           uniqueid="ast-central.7", channame=cdr.channel)
    Cdr.objects.create(start=start, answer=start, end=start + datetime.timedelta(seconds=3), duration=3, billsec=3,
                       src="2001", dst="*130", dcontext="site-branch1", lastapp="Echo", uniqueid="ast-central.8")
    Cel.objects.create(eventtype="HANGUP", eventtime=start + datetime.timedelta(seconds=50), uniqueid="ast-central.8")
    got = {r["dst"]: r for r in rows(client, read_key, src="2001", since="2026-11-01T00:00:00Z")}
    assert (got["*125"]["billsec"], got["*125"]["duration"], got["*125"]["end"]) == (10, 10, "2026-11-02T09:00:10Z")
    assert (got["*130"]["billsec"], got["*130"]["end"]) == (3, "2026-11-02T09:00:03Z")  # only conference legs
    assert [r["dst"] for r in rows(client, read_key, min_billsec=10, src="2001", until="2026-11-03T00:00:00Z")] \
        == ["*125"]
    Cel.objects.all().delete()  # a node without cel_pgsql: Asterisk's own figures
    assert rows(client, read_key, dst="*125")[0]["billsec"] == 0


def test_the_list_makes_the_same_number_of_queries_with_both_sources(client, estate, read_key):
    get(client, read_key)  # the token's first use of the minute writes last_used_at
    with CaptureQueriesContext(connection) as few:
        get(client, read_key)
        get(client, read_key, "/api/v1/cdrs/totals/")
    for i in range(30):
        acc(i)
        Cdr.objects.create(start=T0 + datetime.timedelta(seconds=i), src="2001", dst="*130", lastapp="ConfBridge",
                           answer=T0, dcontext="site-branch1", uniqueid=f"u{i}")
    with CaptureQueriesContext(connection) as many:
        assert len(get(client, read_key).json()["results"]) == 61
        get(client, read_key, "/api/v1/cdrs/totals/")
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_the_call_records_page_lists_kamailios_records(client, estate, dora):
    acc(0, src="2007", dst="2008")
    client.force_login(dora)
    page = client.get("/cdrs/", {"source": "kamailio"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "2008" in body and "600123456" not in body and "kamailio" in body
