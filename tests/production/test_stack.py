"""Production mode works, as an operator starts it: DEBUG=false, collected static files, gunicorn, systemd units.

The stack is started from the documented steps (tests/production/stack.py): the environment file is
``deploy/voipadmin.env.example`` with its secrets in files, then ``manage.py migrate``, ``collectstatic``,
``ensure_admin`` (and the demo estate, so that detail pages exist), and the
portal from the ``ExecStart=`` of ``deploy/systemd/voipadmin-portal.service`` (gunicorn, two workers,
deploy/gunicorn.conf.py). A signed-in administrator then fetches every page it can reach from every URL
pattern, and every static file those pages load, the way nginx hands requests over.

The broker is the suite's Redis with queue names of the stack's own (VOIPADMIN_CELERY_QUEUE_PREFIX), so
its workers never take another test's tasks. PostgreSQL and Redis missing is a failure, never a skip.
"""
from __future__ import annotations

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from prometheus_client.parser import text_string_to_metric_families

from .crawler import Browser
from .stack import HOST, ProductionStack, unit_directives

pytestmark = pytest.mark.postgres

# Pages that only take a POST (a form's button): a GET is refused, never an error page.
POST_ONLY = {"apitoken_revoke", "push:pushjob_retry", "push:pushjob_retry_all_failed", "users:sipuser_reset_password",
             "users:sipuser_reset_pin", "live:asterisk_node_test", "live:kamailio_node_test", "logout",
             "api:sipuser-reset-password", "api:sipuser-reset-voicemail-pin", "api:pushjob-retry",
             "api:pushjob-retry-failed", "push:node_queue_pause", "push:node_queue_resume", "push:node_queue_cancel",
             "push:node_queue_push_everything", "users:sipuser_bulk", "trunks:trunk_bulk", "twofactor:recovery_codes",
             "twofactor:disable", "api:asterisknode-drain", "api:asterisknode-undrain", "media:conferenceroom_bulk",
             "media:ivrmenu_bulk", "media:agiapplication_bulk"}
# Offered only for a call in progress (the stack here has none): served in tests/live/test_user_panel.py and, on
# a real Asterisk, tests/asterisk/test_call_control.py.
CALL_CONTROL = {"live:user_hangup", "live:user_listen"}
# Where a GET is answered by a redirect by design: the home page sends people to their first page, the
# login page sends a signed-in user home, a trunk's plain id goes to its E1 or ITSP page.
REDIRECTS = {"home", "login", "trunks:trunk_detail", "twofactor:verify", "set_language"}  # (no code awaited; no language)
# The steps of a CSV import in progress (status, errors, secrets): without one they redirect or are not found.
IMPORT_STEPS = re.compile(r"^users:sipuser_import_.+")
# Not pages: tested on their own below (no session; a bearer token for /metrics), and the announcements' sounds
# the Asterisk nodes fetch (a secret URL, cacheable by anyone: tests/media/test_sounds.py).
OPS = {"healthz", "metrics", "media_sound"}
SECURITY_HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}
HASHED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, worker_id):
    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url.startswith("redis://"):
        pytest.fail("the production stack test needs the Redis broker: CELERY_BROKER_URL=redis://127.0.0.1:6379/15")
    base_name = urlsplit(database_url).path.lstrip("/") or "voipadmin"
    stack = ProductionStack(tmp_path_factory.mktemp("stack"), database_url=database_url, broker_url=broker_url,
                            database_name=f"{base_name}_stack_{worker_id}",
                            # beat's first poll and sweep come after one interval: make them quick
                            overrides={"VOIPADMIN_POLL_INTERVAL": "2", "VOIPADMIN_PUSH_SWEEP": "1",
                                       "GUNICORN_WORKERS": "2"})
    stack.write_configuration()
    stack.create_database()
    try:
        stack.manage("migrate", "--noinput")
        stack.manage("collectstatic", "--noinput")
        stack.admin = stack.ensure_admin()
        stack.manage("load_demo_estate")
        _record_a_call(stack)
        _a_disabled_account(stack)
        stack.start("voipadmin-portal.service")
        stack.wait_for_portal()
        yield stack
    finally:
        stack.stop()
        stack.purge_broker()
        stack.drop_database()


def _a_disabled_account(stack: ProductionStack) -> None:
    """A former colleague's account, disabled: its page offers "enable" (a page the crawl must reach too)."""
    import psycopg

    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                                               is_staff, is_active, date_joined)
                        VALUES ('!', false, 'former', 'Former', 'Colleague', '', false, false, now())""")


def _record_a_call(stack: ProductionStack) -> None:
    """One CDR as an Asterisk's cdr_pgsql writes it (the demo estate has none), so a CDR page has a record."""
    import psycopg

    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO cdr (start, answer, "end", clid, src, dst, dcontext, channel, lastapp, duration,
                                         billsec, disposition, amaflags, accountcode, uniqueid, linkedid)
                        VALUES ('2026-01-05 10:00:00', '2026-01-05 10:00:03', '2026-01-05 10:01:03',
                                '"Alice" <1001>', '1001', '*130', 'site-central', 'PJSIP/1001-00000001', 'Echo',
                                63, 60, 'ANSWERED', 'DOCUMENTATION', 'central', 'ast-central-1767607200.1',
                                'ast-central-1767607200.1')""")


@pytest.fixture
def browser(stack):
    browser = Browser(stack.base_url, HOST)
    yield browser
    browser.close()


def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    """(route, view name, takes arguments) of every URL pattern."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}:{entry.namespace}".strip(":") if entry.namespace else namespace
            yield from _patterns(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}".strip(":")
            yield prefix + str(entry.pattern), name, bool(entry.pattern.regex.groupindex)


def _view_name(path: str) -> str:
    try:
        return resolve(path).view_name
    except Resolver404:
        return "(unresolved)"


def _seeds() -> list[str]:
    """Every pattern that needs no argument, as a path (admin: its index; its pages are found by links)."""
    seeds = []
    for route, name, takes_args in _patterns(get_resolver()):
        if takes_args or name in POST_ONLY | OPS or route.startswith("django-admin/") or "^" in route:
            continue
        seeds.append("/" + route)
    return seeds + ["/django-admin/"]


def _detail_seeds(browser: Browser) -> list[str]:
    """Pages nothing links to: each API object (the lists give ids, not links) and a trunk by its plain id
    (it redirects to the E1 or ITSP page), for the first object of each list."""
    seeds = []
    patterns = {name: route for route, name, _ in _patterns(get_resolver())}
    for name, route in patterns.items():
        if not (name.startswith("api:") and name.endswith("-list") and name[:-5] + "-detail" in patterns):
            continue
        path = "/" + route.replace("^", "").replace("$", "")
        listing = browser.get(path, {"Accept": "application/json"})
        assert listing.status_code == 200, (path, listing.status_code)
        body = listing.json()
        rows = body.get("results", []) if isinstance(body, dict) else body
        if rows:
            seeds.append(f"{path}{rows[0]['id']}/")
            if name == "api:trunk-list":
                seeds.append(f"/trunks/{rows[0]['id']}/")
    return seeds


def _skip(path: str) -> bool:
    return path.startswith(("/static/", "/logout/", "/django-admin/logout/"))


def test_the_deployment_files_are_what_the_guide_installs():
    for unit in ("voipadmin-portal.service", "voipadmin-push-worker.service", "voipadmin-live-worker.service",
                 "voipadmin-beat.service", "voipadmin-media-apps.service"):
        d = unit_directives(unit)
        assert d["EnvironmentFile"] == ["/etc/voipadmin/env"] and d["User"] == ["voipadmin"], unit
        assert d["ProtectSystem"] == ["strict"] and d["ReadWritePaths"] == ["/var/lib/voipadmin"], unit
        assert d["NoNewPrivileges"] == ["yes"] and d["Restart"] == ["on-failure"], unit
    (push,) = unit_directives("voipadmin-push-worker.service")["ExecStart"]
    (live,) = unit_directives("voipadmin-live-worker.service")["ExecStart"]
    assert "-Q ${VOIPADMIN_CELERY_QUEUE_PREFIX}push " in push and "-Q ${VOIPADMIN_CELERY_QUEUE_PREFIX}live," in live
    (media,) = unit_directives("voipadmin-media-apps.service")["ExecStart"]
    assert "manage.py run_media_apps --instance media-%H" in media  # a fixed name: a restart finds its calls
    # the unit lets the instance's calls finish (--grace) before systemd kills it
    grace = float(media.split("--grace ")[1].split()[0])
    assert float(unit_directives("voipadmin-media-apps.service")["TimeoutStopSec"][0]) > grace


def test_every_page_and_every_static_file_is_served_in_production(stack, browser):
    started = time.monotonic()
    login = browser.log_in(*stack.admin)
    assert login.status_code == 302 and "sessionid" in browser.cookies, login.text[:500]
    # the guide's environment requires two-factor login for administrators: the first page is the enrolment
    assert browser.get("/dashboard/").headers.get("location", "").endswith("/two-factor/")
    enrolled = browser.enrol_two_factor()
    assert enrolled.status_code == 200 and "recovery" in enrolled.text.lower(), enrolled.text[:500]
    assert browser.get("/dashboard/").status_code == 200

    seeds = _seeds() + _detail_seeds(browser)
    pages, assets = browser.crawl(seeds, skip=_skip, per_pattern=3, pattern_of=_view_name)
    assets |= browser.asset_references(assets)

    errors = {p: f.status for p, f in pages.items() if f.status >= 500}
    assert not errors, f"server errors: {errors}\n{stack.log('voipadmin-portal.service')}"
    visited = {}
    for path, fetched in pages.items():
        visited.setdefault(_view_name(path.partition("?")[0]), []).append(fetched)
    wrong = []
    for name, fetched in visited.items():
        for f in fetched:
            allowed = ({200} | ({301, 302} if name in REDIRECTS else set()) | ({405} if name in POST_ONLY else set())
                       | ({302, 404} if IMPORT_STEPS.match(name) else set()))
            if f.status not in allowed:
                wrong.append(f"{f.url} ({name}) answered {f.status}, linked from {f.referrer}")
    assert not wrong, "\n".join(wrong)

    # every pattern of the portal was served at least once (the API's too, as its browsable pages)
    every = {name for _, name, _ in _patterns(get_resolver())
             if not name.startswith("admin:") and name not in POST_ONLY | OPS | CALL_CONTROL}
    missing = every - set(visited)
    assert not missing, f"never reached from any page: {sorted(missing)}"

    for path, fetched in pages.items():
        if fetched.status != 200:
            continue
        for header, value in SECURITY_HEADERS.items():
            assert fetched.headers.get(header) == value, (path, header, fetched.headers.get(header))
        assert "max-age=31536000" in fetched.headers.get("strict-transport-security", ""), path
        # same-origin everywhere but swagger-ui's page (drf-spectacular relaxes it there for OAuth pop-ups)
        assert fetched.headers.get("cross-origin-opener-policy") in ("same-origin", "unsafe-none"), path
        cache = fetched.headers.get("cache-control", "")
        assert "no-store" in cache or "private" in cache, (path, cache)

    html_pages = [f for f in pages.values() if f.status == 200 and f.is_html]
    assert len(html_pages) > 100 and assets, (len(html_pages), len(assets))
    for path, asset in assets.items():
        assert asset.status == 200, (path, asset.status, asset.referrer)
        if not path.startswith("/static/"):
            continue  # a script made by a view (the admin's jsi18n): a page like the others
        assert HASHED.search(path.partition("?")[0]), f"{path} (from {asset.referrer}) is not a collected, hashed name"
        cache = asset.headers.get("cache-control", "")
        assert "max-age=315360000" in cache and "immutable" in cache, (path, cache)
    assert sum(p.startswith("/static/") for p in assets) > 20
    css = next(a for p, a in assets.items() if p.endswith(".css"))
    assert css.headers.get("content-encoding") in ("gzip", "br"), "collectstatic's compressed copies are served"

    # a page that does not exist: the production 404 page, no traceback, no debug listing of the URLs
    missing_page = browser.get("/no-such-page/")
    assert missing_page.status_code == 404 and "Traceback" not in missing_page.text
    assert "URLconf" not in missing_page.text
    print(f"crawled {len(pages)} pages ({len(html_pages)} HTML) and {len(assets)} static files in "
          f"{time.monotonic() - started:.1f}s")


def test_healthz_is_green_once_the_workers_and_beat_run(stack):
    first = httpx.get(f"{stack.base_url}/healthz", headers={"Host": HOST})
    assert first.status_code == 503 and first.headers["cache-control"].startswith("max-age=0")
    assert {"beat", "poll"} <= set(first.json()["failing"]), first.text
    for unit in ("voipadmin-push-worker.service", "voipadmin-live-worker.service", "voipadmin-beat.service"):
        stack.start(unit)
    deadline = time.monotonic() + 60  # (worker start-up on a busy CI machine; a few seconds when idle)
    while True:
        health = httpx.get(f"{stack.base_url}/healthz", headers={"Host": HOST})
        if health.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    logs = "\n".join(stack.log(u) for u in ("voipadmin-live-worker.service", "voipadmin-beat.service"))
    assert health.status_code == 200, f"{health.text}\n{logs}"
    body = health.json()
    assert body["status"] == "ok" and list(body["checks"]) == ["database", "broker", "beat", "poll", "push"]


def test_the_portal_closes_each_connection_after_its_answer(stack):
    """deploy/gunicorn.conf.py: a worker takes a connection only when it has a thread free for it, so it keeps
    none open for a next request (nginx opens one per request anyway); a client asking for keep-alive gets
    ``Connection: close`` and its next request a new connection, which any free worker may take."""
    with httpx.Client(headers={"Host": HOST}) as client:
        answers = [client.get(f"{stack.base_url}/healthz") for _ in range(3)]
    assert all(a.headers.get("connection") == "close" for a in answers)
    assert all(a.status_code in (200, 503) for a in answers)


def test_metrics_need_the_token_and_count_the_api_requests_of_every_worker(stack):
    url = f"{stack.base_url}/metrics"
    headers = {"Host": HOST, "X-Forwarded-Proto": "https"}
    assert httpx.get(url, headers=headers).status_code == 401
    assert httpx.get(url, headers=headers | {"Authorization": "Bearer wrong"}).status_code == 401

    def api_total() -> float:
        scrape = httpx.get(url, headers=headers | {"Authorization": f"Bearer {stack.metrics_token}"})
        assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
        counted = families.get("voipadmin_api_requests")  # (no series before the first API request)
        return sum(s.value for s in counted.samples if s.name.endswith("_total")) if counted else 0.0

    before = api_total()

    def one(i: int) -> int:  # a connection each, so both gunicorn workers take some
        return httpx.get(f"{stack.base_url}/api/v1/sites/", headers=headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(40)))
    assert set(statuses) == {401}
    assert api_total() - before == 40
    assert json.loads(httpx.get(f"{stack.base_url}/healthz", headers={"Host": HOST}).text)["checks"]["database"]["ok"]
