"""The call records page: a period (picked, or a quick one), its totals and charts per site and trunk, the users
behind the numbers, and the export of what is shown — in a number of queries that does not grow with the rows."""
from __future__ import annotations

import datetime
import json
import re
import zoneinfo
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdrs import ranges
from cdrs.models import Cdr
from cdrs.views import CdrListView
from tests.api.conftest import SYSTEM, build_estate

UTC = datetime.timezone.utc
DAY = datetime.datetime(2026, 3, 10, tzinfo=UTC)  # a fixed day: nothing here reads the clock
PERIOD = {"since": "2026-03-10T00:00", "until": "2026-03-11T00:00"}


@pytest.fixture
def estate(db):
    return build_estate()  # branch1 (2000-2999), user 2001 "Ann Example", trunk itsp1, e1-pstn on span 1


def call(at: datetime.datetime, *, src="2001", dst="600123456", billsec=60, disposition="ANSWERED",
         dcontext="site-branch1", dstchannel="PJSIP/itsp1-00000002", **extra) -> Cdr:
    return Cdr.objects.create(start=at, answer=at, end=at + datetime.timedelta(seconds=billsec), src=src, dst=dst,
                              dcontext=dcontext, channel=f"PJSIP/{src}-00000001", dstchannel=dstchannel,
                              duration=billsec + 5, billsec=billsec, disposition=disposition,
                              uniqueid=f"{at.timestamp()}.{src}.{dst}", **extra)


def hand_made_day() -> None:
    """Five calls on DAY and two outside it: 3 answered (60 + 90 + 30 s), 1 busy, 1 no answer; three through
    the ITSP, one on branch1's E1 span, one from the carrier to nobody's site."""
    call(DAY + datetime.timedelta(hours=9), billsec=60)
    call(DAY + datetime.timedelta(hours=10), billsec=90, dst="600000002")
    call(DAY + datetime.timedelta(hours=11), billsec=0, disposition="BUSY", dst="600000003")
    call(DAY + datetime.timedelta(hours=12), billsec=30, dst="2001", src="917000001", dcontext="from-carrier",
         dstchannel="DAHDI/i1/917000001-1", accountcode="branch1")
    call(DAY + datetime.timedelta(hours=13), billsec=0, disposition="NO ANSWER", src="917000002", dst="2999",
         dcontext="from-itsp", dstchannel="", peeraccount="itsp1")
    call(DAY - datetime.timedelta(seconds=1), billsec=500, dst="600000009")   # the day before
    call(DAY + datetime.timedelta(days=1), billsec=700, dst="600000010")      # the day after (until is exclusive)


def page(client, **params):
    response = client.get("/cdrs/", params)
    assert response.status_code == 200
    return response


def chart(response) -> dict:
    found = re.search(r'<script id="cdr-chart-data" type="application/json">(.*?)</script>', response.content.decode(),
                      re.S)
    assert found, "the page carries its chart data"
    return json.loads(found.group(1))


def test_a_period_lists_only_the_calls_that_started_in_it(admin_client, estate):
    hand_made_day()
    body = page(admin_client, **PERIOD).content.decode()
    assert "600000002" in body and "600000003" in body
    assert "600000009" not in body and "600000010" not in body
    assert 'type="datetime-local"' in body and 'value="2026-03-10T00:00"' in body


def test_the_totals_add_up_the_calls_of_the_period(admin_client, estate):
    hand_made_day()
    response = page(admin_client, **PERIOD)
    totals = response.context["totals"]
    assert (totals["calls"], totals["answered"], totals["billsec"]) == (5, 3, 180)
    assert totals["duration"] == 180 + 5 * 5 and totals["billable_minutes"] == 3.0
    assert (totals["busy"], totals["no_answer"], totals["failed"], totals["other"]) == (1, 1, 0, 0)
    assert dict(response.context["dispositions"]) == {"Answered": 3, "No answer": 1, "Busy": 1, "Failed": 0,
                                                      "Congestion": 0}
    body = response.content.decode()
    assert '<td id="total-calls">5</td>' in body and "180 s (3.0 min)" in body


def test_the_charts_show_each_site_and_trunk_of_the_period(admin_client, estate):
    hand_made_day()
    data = chart(page(admin_client, **PERIOD))
    assert data["sites"] == {"labels": ["branch1", "(none)"], "answered": [3, 0], "unanswered": [1, 1],
                             "minutes": [3.0, 0.0]}
    assert data["trunks"] == {"labels": ["e1-pstn", "itsp1"], "answered": [1, 2], "unanswered": [0, 2],
                              "minutes": [0.5, 2.5]}


def test_the_page_and_the_api_total_the_same_way(admin_client, estate):
    hand_made_day()
    api = admin_client.get("/api/v1/cdrs/totals/", {"since": "2026-03-10T00:00:00Z",
                                                     "until": "2026-03-11T00:00:00Z"}).json()
    data = chart(page(admin_client, **PERIOD))
    assert [r["answered"] for r in api["trunks"]] == data["trunks"]["answered"]
    assert [r["name"] or "(none)" for r in api["sites"]] == data["sites"]["labels"]


def test_without_a_period_there_is_no_aggregation_of_the_whole_table(admin_client, estate):
    hand_made_day()
    with CaptureQueriesContext(connection) as queries:
        response = page(admin_client)
    assert "totals" not in response.context and 'id="cdr-no-period"' in response.content.decode()
    assert not [q for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert "totals" not in page(admin_client, until="2026-03-11T00:00").context  # (before a time: most of it)


def test_quick_periods_are_computed_from_the_time_of_the_request():
    madrid = zoneinfo.ZoneInfo("Europe/Madrid")
    now = datetime.datetime(2026, 3, 1, 0, 30, tzinfo=madrid)  # 23:30 UTC the day before: Madrid's day counts
    periods = {p.key: p for p in ranges.quick_periods(now, madrid)}
    midnight = lambda *d: datetime.datetime(*d, tzinfo=madrid)  # noqa: E731
    assert (periods["today"].since, periods["today"].until) == (midnight(2026, 3, 1), midnight(2026, 3, 2))
    assert (periods["yesterday"].since, periods["yesterday"].until) == (midnight(2026, 2, 28), midnight(2026, 3, 1))
    assert (periods["last7"].since, periods["last7"].until) == (midnight(2026, 2, 23), midnight(2026, 3, 2))
    assert (periods["this_month"].since, periods["this_month"].until) == (midnight(2026, 3, 1), midnight(2026, 3, 2))
    assert (periods["last_month"].since, periods["last_month"].until) == (midnight(2026, 2, 1), midnight(2026, 3, 1))
    january = {p.key: p for p in ranges.quick_periods(datetime.datetime(2026, 1, 15, 12, tzinfo=UTC), UTC)}
    assert january["last_month"].since == datetime.datetime(2025, 12, 1, tzinfo=UTC)


def test_a_quick_period_link_selects_that_period_and_keeps_the_other_filters(admin_client, estate, monkeypatch):
    hand_made_day()
    monkeypatch.setattr(CdrListView, "request_time", lambda self: DAY + datetime.timedelta(hours=15))
    links = {p["key"]: p for p in page(admin_client, site="branch1").context["periods"]}
    assert links["today"]["url"] == "?site=branch1&since=2026-03-10T00%3A00&until=2026-03-11T00%3A00"
    assert links["yesterday"]["url"].endswith("since=2026-03-09T00%3A00&until=2026-03-10T00%3A00")
    response = admin_client.get("/cdrs/" + unescape(links["today"]["url"]))
    assert response.context["totals"]["calls"] == 4  # branch1's four calls of the day
    active = [p["key"] for p in response.context["periods"] if p["active"]]
    assert active == ["today"] and 'id="period-today" href=' in response.content.decode()


def test_numbers_that_are_users_link_to_the_user(admin_client, estate):
    hand_made_day()
    body = page(admin_client, **PERIOD).content.decode()
    user = estate["user"]
    assert f'<a href="/users/{user.pk}/" class="va-user-link" title="Ann Example">2001</a>' in body
    assert 'va-user-link" title="Ann Example">600' not in body and ">2999</a>" not in body  # nobody's numbers


def test_the_export_link_keeps_the_filters_and_exports_what_is_shown(admin_client, estate):
    hand_made_day()
    body = page(admin_client, site="branch1", page="1", per_page="25", **PERIOD).content.decode()
    href = unescape(re.search(r'id="cdr-export" href="([^"]+)"', body).group(1))
    assert href.startswith("/api/v1/cdrs/export.csv?") and "site=branch1" in href and "since=2026-03-10T00" in href
    assert "per_page" not in href and "page=" not in href
    csv = b"".join(admin_client.get(href).streaming_content).decode()
    assert csv.count("\r\n") == 1 + 4 and "600000009" not in csv


def test_the_page_costs_the_same_queries_for_a_few_calls_or_many(admin_client, estate):
    from users import actions as user_actions

    hand_made_day()
    with CaptureQueriesContext(connection) as few:
        page(admin_client, **PERIOD)
    for i in range(2, 40):
        user = user_actions.create_user(actor=SYSTEM, extension=2000 + i, name=f"User {i}", site=estate["site"])
        call(DAY + datetime.timedelta(minutes=i), src=str(user.extension), dst=str(2100 + i))
    with CaptureQueriesContext(connection) as many:
        response = page(admin_client, **PERIOD)
    assert response.context["totals"]["calls"] == 5 + 38
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]


def test_helpdesk_still_cannot_see_call_records(helpdesk_client, estate):
    assert helpdesk_client.get("/cdrs/", PERIOD).status_code == 403
