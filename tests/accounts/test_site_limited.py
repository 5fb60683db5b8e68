"""Site-limited accounts (issue 12): a delegation's administrator and helpdesk see and change only their sites.

Personas on the demo estate (central + branch1..3): Eve administers branch1 only, Hugo is branch1's helpdesk,
Alice is the estate's administrator. The role × endpoint walk is generated from the URLconf and the API router
(as tests/foundation/test_personas.py and tests/api/test_permissions_matrix.py do for the estate-wide roles),
so a page or an endpoint added later is covered for the site limit too.
"""
from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import get_resolver

from accounts.models import AccountProfile
from sites.models import AsteriskNode, KamailioNode, Site
from tests.foundation.test_personas import _pages, _walk
from users.models import SipUser
from voipadmin import scope
from voipadmin.actors import Actor
from voipadmin.api.tokens import create_token
from voipadmin.api_urls import router
from voipadmin.models import ApiToken

SYSTEM = Actor.command("tests")
BRANCH1_NAMES = {"Elena Ruiz (home)", "Pablo Díaz (home)", "Sara Moreno (home)"}
OTHER_NAMES = {"Ana García", "Carmen Navarro", "Lucía Torres"}
CALL_START = datetime.datetime(2026, 11, 20, 9, 0)  # a fixed time: no test reads the clock


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def estate(db):
    from cdrs.models import Cdr

    call_command("load_demo_estate")
    for i, (slug, src, dst) in enumerate([("branch1", "4001", "4002"), ("branch2", "6001", "6002"),
                                          ("central", "1001", "1002")]):
        Cdr.objects.create(start=CALL_START + datetime.timedelta(minutes=i), answer=CALL_START,
                           end=CALL_START, src=src, dst=dst, dcontext=f"site-{slug}", channel=f"PJSIP/{src}-0001",
                           dstchannel=f"PJSIP/{dst}-0002", disposition="ANSWERED", duration=10, billsec=8,
                           uniqueid=f"call-{i}", linkedid=f"call-{i}", lastapp="Dial")
    return {slug: Site.objects.get(slug=slug) for slug in ("central", "branch1", "branch2", "branch3")}


def _limited(django_user_model, username: str, role: str, *sites: Site):
    user = django_user_model.objects.create_user(username=username, password="correct horse battery")
    user.groups.add(Group.objects.get(name=role))
    profile = AccountProfile.objects.create(user=user, site_limited=True)
    profile.sites.set(sites)
    return user


@pytest.fixture
def eve(estate, django_user_model):
    """Eve administers the branch1 delegation, nothing else."""
    return _limited(django_user_model, "eve", "Administrator", estate["branch1"])


@pytest.fixture
def hugo(estate, django_user_model):
    """Hugo is branch1's helpdesk."""
    return _limited(django_user_model, "hugo", "Helpdesk", estate["branch1"])


@pytest.fixture
def eve_client(client, eve):
    client.force_login(eve)
    return client


# --- the rule itself ---------------------------------------------------------------------------------------------


def test_an_account_without_a_profile_is_estate_wide_and_costs_no_query(alice, django_assert_num_queries):
    user = type(alice).objects.get(pk=alice.pk)
    from accounts.backends import AccountBackend

    loaded = AccountBackend().get_user(alice.pk)
    with django_assert_num_queries(0):
        assert scope.site_scope(loaded) is None
    assert scope.restrict(SipUser.objects.all(), user).query.where == SipUser.objects.all().query.where


def test_a_model_that_declares_no_scope_is_closed_to_a_site_limited_account(eve):
    from voipadmin.models import ChangeLogEntry

    assert getattr(ChangeLogEntry, "scoped_by", None) is None
    assert not scope.restrict(ChangeLogEntry.objects.all(), eve).exists()
    assert ChangeLogEntry.objects.exists()


def test_site_limited_permissions_keep_only_what_applies_to_sites(eve, hugo):
    assert eve.has_perm("users.change_sipuser") and eve.has_perm("sites.change_asterisknode")
    assert eve.has_perm("services.view_servicecode") and not eve.has_perm("services.change_servicecode")
    assert not eve.has_perm("sites.add_kamailionode") and not eve.has_perm("services.add_dispatcherset")
    assert eve.has_perm("sites.change_site") and not eve.has_perm("sites.add_site")
    assert not eve.has_perm("sites.delete_site")
    assert not eve.has_perm("voipadmin.view_changelogentry") and not eve.has_perm("auth.add_user")
    assert hugo.has_perm("users.reset_voicemail_pin") and not hugo.has_perm("users.change_sipuser")
    # media applications: a delegation runs its own rooms, menus, AGI applications and announcements; the
    # conference profiles are the estate's; its helpdesk sees none of them
    assert eve.has_perm("media.add_conferenceroom") and eve.has_perm("media.change_ivrmenu")
    assert eve.has_perm("media.add_agiapplication") and eve.has_perm("media.add_announcement")
    assert eve.has_perm("media.view_conferenceprofile") and not eve.has_perm("media.change_conferenceprofile")
    assert not any(p.startswith("media.") for p in hugo.get_all_permissions())


# --- pages: every URL of the URLconf, with another site's object ----------------------------------------------


def _object_pages():
    """(name, route, model) of every GET page about one object whose model belongs to a site."""
    for name, route, callback in _pages():
        model = getattr(getattr(callback, "view_class", None), "model", None)
        if "<int:pk>" in route and model is not None and isinstance(getattr(model, "scoped_by", None), str) \
                and getattr(model, "scoped_by") != scope.ESTATE_WIDE:
            yield name, route, model


def _one(model, *, mine: bool, sites: set[int]):
    qs = scope.restrict(model.objects.all(), _Limited(sites))
    if mine:
        return qs.order_by("pk").first()
    return model.objects.exclude(pk__in=qs.values("pk")).order_by("pk").first()


class _Limited:
    """A stand-in principal for ``restrict``: authenticated, limited to ``sites``."""

    is_authenticated = True

    def __init__(self, sites):
        self.token = self
        self._sites = frozenset(sites)

    def site_scope(self):
        return self._sites


def test_every_object_page_of_another_site_is_not_found_for_a_delegation_admin(eve_client, estate):
    mine = {estate["branch1"].pk}
    checked = 0
    for name, route, model in _object_pages():
        other = _one(model, mine=False, sites=mine)
        own = _one(model, mine=True, sites=mine)
        if other is not None:
            response = eve_client.get("/" + route.replace("<int:pk>", str(other.pk)))
            assert response.status_code in (403, 404), f"{name}: another site's {model.__name__} answered " \
                                                       f"{response.status_code}"
            checked += 1
        if own is not None:
            response = eve_client.get("/" + route.replace("<int:pk>", str(own.pk)))
            assert response.status_code in (200, 302, 403), f"{name}: own {model.__name__} {response.status_code}"
    assert checked >= 8  # users (detail, edit, delete, resets, panel), nodes, sites...


def test_posting_to_another_sites_objects_changes_nothing(eve_client, estate):
    other = SipUser.objects.get(extension=6001)
    before = (other.name, other.enabled)
    for route in (f"/users/{other.pk}/edit/", f"/users/{other.pk}/delete/", f"/users/{other.pk}/reset-password/"):
        response = eve_client.post(route, {"name": "Taken over", "extension": 6001, "site": other.site_id})
        assert response.status_code in (403, 404), (route, response.status_code)
    other.refresh_from_db()
    assert (other.name, other.enabled) == before and SipUser.objects.filter(pk=other.pk).exists()


def test_a_new_user_can_only_be_placed_on_the_accounts_own_sites(eve_client, estate):
    page = eve_client.get("/users/add/").content.decode()
    assert "branch1" in page.lower() or "Branch 1" in page
    assert f'value="{estate["branch2"].pk}"' not in page
    response = eve_client.post("/users/add/", {"extension": 6050, "name": "Intruder", "site": estate["branch2"].pk,
                                               "voicemail_enabled": "on"})
    assert response.status_code == 400
    assert not SipUser.objects.filter(extension=6050).exists()


def test_bulk_actions_reach_only_own_sites_users(eve_client, estate):
    mine, other = SipUser.objects.get(extension=4001), SipUser.objects.get(extension=6001)
    eve_client.post("/users/bulk/disable/", {"pk": [mine.pk, other.pk], "confirm": "1"})
    mine.refresh_from_db(), other.refresh_from_db()
    assert other.enabled


def test_estate_wide_objects_are_seen_not_changed(eve_client, estate):
    from services.models import ServiceCode

    code = ServiceCode.objects.order_by("pk").first()
    assert eve_client.get("/services/").status_code in (200, 302)
    assert eve_client.get(code.get_absolute_url()).status_code == 200
    assert eve_client.get(code.get_absolute_url() + "edit/").status_code == 403
    kamailio = KamailioNode.objects.order_by("pk").first()
    assert eve_client.get(kamailio.get_absolute_url()).status_code == 200
    assert eve_client.post(kamailio.get_absolute_url() + "edit/", {}).status_code == 403
    assert eve_client.get("/audit/").status_code == 403


# --- list contents: UI list, API list, CSV export, CDRs, dashboard -------------------------------------------


def test_no_page_of_the_urlconf_names_another_sites_users(eve_client, estate):
    """Every page without an object in its URL (lists, dashboard, search, forms...), as branch1's administrator:
    none shows another site's user. (Other sites' Asterisks do appear where the estate's shared objects are
    shown — a dispatcher set's destinations — which a delegation sees and cannot change.)"""
    others = set(SipUser.objects.exclude(site=estate["branch1"]).values_list("name", flat=True))
    seen = 0
    for name, route, _callback in _pages():
        if "<" in route or name in ("logout", "set_language"):
            continue
        response = eve_client.get("/" + route)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        body = response.content.decode()
        leaked = sorted(o for o in others if o in body)
        assert not leaked, f"{name} /{route} shows {leaked}"
        seen += 1
    assert seen >= 15


def test_the_users_list_holds_only_own_sites_users(eve_client, estate):
    body = eve_client.get("/users/?per_page=250").content.decode()
    assert all(name in body for name in BRANCH1_NAMES)
    assert not any(name in body for name in OTHER_NAMES)
    # the site filter offers only its own sites
    assert "Branch 2" not in body.split('id="object-list"')[0] or estate["branch2"].name not in body


def test_the_users_list_costs_the_same_queries_whatever_the_users(eve_client, estate, django_assert_max_num_queries):
    from users import actions

    eve_client.get("/users/")  # (warm the per-process caches)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        eve_client.get("/users/")
    for ext in range(4010, 4030):
        actions.create_user(actor=SYSTEM, extension=ext, name=f"Extra {ext}", site=estate["branch1"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        eve_client.get("/users/")


def test_the_csv_export_holds_only_own_sites_users(eve_client, estate):
    response = eve_client.get("/users/export/")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    extensions = {row[0] for row in rows[1:]}
    assert extensions == {"4001", "4002", "4003"}


def test_the_csv_import_refuses_other_sites_lines_with_their_line_numbers(estate, eve):
    from users import csvio

    text = ("extension,name,email,site\n"
            "4010,New Branch One,,branch1\n"
            "6010,Not Mine,,branch2\n"
            "6001,Renamed,,branch1\n")
    report, result = csvio.import_csv(text, actor=Actor(user=eve, label="eve", source="ui"))
    assert result is None
    errors = dict(report.errors)
    assert "unknown site 'branch2'" in errors[3]
    assert "do not manage" in errors[4] or "outside" in errors[4]
    assert not SipUser.objects.filter(extension__in=(4010, 6010)).exists()


def test_cdrs_page_and_api_hold_only_own_sites_calls(eve_client, estate):
    page = eve_client.get("/cdrs/?since=2026-11-20T00:00&until=2026-11-21T00:00").content.decode()
    assert "4001" in page and "6001" not in page and "1001" not in page.split("<tbody")[1] if "<tbody" in page \
        else "6001" not in page
    rows = eve_client.get("/api/v1/cdrs/?since=2026-11-20T00:00:00Z").json()["results"]
    assert {r["src"] for r in rows} == {"4001"}
    totals = eve_client.get("/api/v1/cdrs/totals/?since=2026-11-20T00:00:00Z").json()
    assert {s["name"] for s in totals["sites"] if s["calls"]} == {"branch1"}


def test_the_dashboard_shows_only_own_sites(eve_client, estate):
    body = eve_client.get("/dashboard/").content.decode()
    assert estate["branch1"].name in body
    for slug in ("branch2", "branch3"):
        assert estate[slug].name not in body
    history = eve_client.get("/live/history.json").json()
    assert [d["label"] for d in history["datasets"]] == [estate["branch1"].name]


# --- the API: lists, details, writes, tokens ------------------------------------------------------------------


def _scoped_api_prefixes():
    for prefix, viewset, _basename in router.registry:
        model = viewset.queryset.model
        rule = getattr(model, "scoped_by", None)
        if rule is not None and rule != scope.ESTATE_WIDE:
            yield prefix, model


def test_every_site_bound_api_list_holds_only_own_sites_objects(eve_client, estate):
    mine = {estate["branch1"].pk}
    checked = 0
    for prefix, model in _scoped_api_prefixes():
        response = eve_client.get(f"/api/v1/{prefix}/?per_page=500")
        assert response.status_code == 200, (prefix, response.status_code)
        body = response.json()
        ids = {row["id"] for row in body.get("results", body)} if isinstance(body, dict) else set()
        allowed = set(scope.restrict(model.objects.all(), _Limited(mine)).values_list("pk", flat=True))
        assert ids <= allowed, f"/api/v1/{prefix}/ leaked {ids - allowed}"
        other = _one(model, mine=False, sites=mine)
        if other is not None and not scope.restrict(model.objects.filter(pk=other.pk), _Limited(mine)).exists():
            assert eve_client.get(f"/api/v1/{prefix}/{other.pk}/").status_code == 404, prefix
            checked += 1
    assert checked >= 4


def test_api_writes_to_another_site_are_refused(eve_client, estate):
    other = SipUser.objects.get(extension=6001)
    assert eve_client.patch(f"/api/v1/users/{other.pk}/", {"name": "Mine now"},
                            content_type="application/json").status_code == 404
    response = eve_client.post("/api/v1/users/", {"extension": 6060, "name": "Elsewhere", "site": estate["branch2"].pk},
                               content_type="application/json")
    assert response.status_code == 400 and "site" in response.json()
    mine = SipUser.objects.get(extension=4001)
    assert eve_client.patch(f"/api/v1/users/{mine.pk}/", {"site": estate["branch2"].pk},
                            content_type="application/json").status_code == 400
    assert eve_client.patch(f"/api/v1/users/{mine.pk}/", {"name": "Elena R."},
                            content_type="application/json").status_code == 200


def test_a_token_made_by_a_delegation_admin_inherits_its_limit(eve, estate, client):
    token, key = create_token(actor=Actor(user=eve, label="eve", source="ui"), name="branch1-billing")
    assert token.site_limited and set(token.sites.values_list("slug", flat=True)) == {"branch1"}
    rows = client.get("/api/v1/users/?per_page=500", HTTP_AUTHORIZATION=f"Token {key}").json()["results"]
    assert {r["extension"] for r in rows} == {4001, 4002, 4003}
    with pytest.raises(Exception):
        create_token(actor=Actor(user=eve, label="eve", source="ui"), name="wider", sites=[estate["branch2"]])


def test_an_estate_admin_can_give_a_token_a_limit(estate, alice, client):
    token, key = create_token(actor=Actor(user=alice, label="alice", source="ui"), name="branch2-only",
                              sites=[estate["branch2"]])
    rows = client.get("/api/v1/users/?per_page=500", HTTP_AUTHORIZATION=f"Token {key}").json()["results"]
    assert {r["extension"] for r in rows} == {6001, 6002}
    unlimited = create_token(actor=Actor(user=alice, label="alice", source="ui"), name="all")[0]
    assert not unlimited.site_limited and scope.site_scope(_TokenPrincipal(unlimited)) is None


class _TokenPrincipal:
    is_authenticated = True

    def __init__(self, token: ApiToken):
        self.token = token


def test_the_token_page_lists_only_tokens_within_own_sites(eve_client, eve, alice, estate):
    create_token(actor=Actor(user=alice, label="alice", source="ui"), name="estate-wide-billing")
    create_token(actor=Actor(user=eve, label="eve", source="ui"), name="branch1-reports")
    body = eve_client.get("/api-tokens/").content.decode()
    assert "branch1-reports" in body and "estate-wide-billing" not in body


# --- the helpdesk of a delegation -----------------------------------------------------------------------------


def test_a_delegation_helpdesk_finds_and_resets_only_its_sites_users(client, hugo, estate):
    client.force_login(hugo)
    body = client.get("/users/?q=a").content.decode()
    assert not any(name in body for name in OTHER_NAMES)
    other = SipUser.objects.get(extension=6001)
    assert client.get(f"/users/{other.pk}/").status_code == 404
    assert client.post(f"/users/{other.pk}/reset-pin/").status_code in (403, 404)
    mine = SipUser.objects.get(extension=4001)
    assert client.get(f"/users/{mine.pk}/").status_code == 200


def test_every_named_url_was_considered():
    """(guard: the walk above covers the URLconf, not a hand-made list)"""
    assert len(list(_walk(get_resolver().url_patterns))) > 50
    assert any(model is SipUser for _n, _r, model in _object_pages())
    assert any(model is AsteriskNode for _n, _r, model in _object_pages())
