"""The media applications over /api/v1/: a menu with its options and open hours in one request, an AGI
application with its servers, rooms, profiles, announcements uploaded as multipart — the same rules and audit as
the pages, the caller's sites only, and list endpoints whose query count does not grow with their rows."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from media import actions
from media.models import AgiApplication, AgiServer, Announcement, ConferenceRoom, IvrMenu
from voipadmin.api.tokens import create_token
from voipadmin.models import ApiToken, ChangeLogEntry

from .objects import SYSTEM, fill, small_estate, wav_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def estate(db):
    return small_estate()


@pytest.fixture
def api(client, db):
    key = create_token(actor=SYSTEM, name="integration", scope=ApiToken.Scope.WRITE)[1]
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client


def _post(api, url, body):
    return api.post(url, body, content_type="application/json")


def test_a_menu_is_created_with_its_options_and_hours_in_one_request(api, estate):
    room = actions.create_conference_room(actor=SYSTEM, site=estate["central"], number="800", name="Board")
    response = _post(api, "/api/v1/ivr-menus/", {
        "site": estate["central"].pk, "name": "Main menu", "prompt_sound": "demo-congrats",
        "service_code": estate["codes"]["*141"].pk,
        "options": [{"key": "1", "action": "extension", "value": "1001"},
                    {"key": "2", "action": "room", "room": room.pk, "value": "555"},
                    {"key": "timeout", "action": "repeat"}],
        "hours": [{"weekday": 0, "opens": "09:00", "closes": "18:00"}]})
    assert response.status_code == 201, response.content
    body = response.json()
    menu = IvrMenu.objects.get(pk=body["id"])
    assert {o["key"]: (o["action"], o["value"], o["room"]) for o in body["options"]} == {
        "1": ("extension", "1001", None), "2": ("room", "", room.pk), "timeout": ("repeat", "", None)}
    assert body["hours"] == [{"weekday": 0, "opens": "09:00:00", "closes": "18:00:00"}]
    entry = ChangeLogEntry.objects.get(content_type__model="ivrmenu", object_id=str(menu.pk))
    assert entry.source == "api" and entry.changes["hours"][1] == "mon 09:00-18:00"
    # a PATCH without the lists keeps them; with one, replaces it
    assert api.patch(f"/api/v1/ivr-menus/{menu.pk}/", {"timeout": 9}, content_type="application/json").json()[
        "options"] == body["options"]
    patched = api.patch(f"/api/v1/ivr-menus/{menu.pk}/", {"hours": []}, content_type="application/json").json()
    assert patched["hours"] == [] and len(patched["options"]) == 3


def test_a_menus_bad_options_and_hours_are_refused_naming_each(api, estate):
    other = actions.create_conference_room(actor=SYSTEM, site=estate["branch"], number="800", name="Branch room")
    response = _post(api, "/api/v1/ivr-menus/", {
        "site": estate["central"].pk, "name": "Broken",
        "options": [{"key": "1", "action": "extension", "value": "1999"},
                    {"key": "2", "action": "room", "room": other.pk},
                    {"key": "3", "action": "menu"}],
        "hours": [{"weekday": 2, "opens": "18:00", "closes": "09:00"}]})
    assert response.status_code == 400
    errors = response.json()
    assert errors["options"] == ["Key 1: no user has extension 1999.", "Key 2: room 800 Branch room is another site's.",
                                 "Key 3: choose the target menu."]
    assert errors["hours"] == ["wed 18:00-09:00: it must open before it closes."]
    assert not IvrMenu.objects.exists()
    response = _post(api, "/api/v1/ivr-menus/", {"site": estate["central"].pk, "name": "Codes",
                                                 "service_code": estate["codes"]["*126"].pk})
    assert response.status_code == 400 and "kind" in response.json()["service_code"][0]


def test_an_agi_application_is_written_with_its_servers(api, estate):
    response = _post(api, "/api/v1/agi-applications/", {"name": "CRM", "app_id": "crm-1", "enabled": True,
                                                        "servers": []})
    assert response.status_code == 400 and "at least one enabled server" in response.json()["servers"][0]
    response = _post(api, "/api/v1/agi-applications/", {
        "name": "CRM", "app_id": "crm-1", "script": "lookup", "service_code": estate["codes"]["*142"].pk,
        "servers": [{"host": "127.0.0.1", "port": 4573}, {"host": "127.0.0.1", "port": 4574, "enabled": False}]})
    assert response.status_code == 201, response.content
    app = AgiApplication.objects.get(name="CRM")
    assert [(s.port, s.position, s.enabled) for s in app.servers.all()] == [(4573, 1, True), (4574, 2, False)]
    assert response.json()["servers"] == [{"host": "127.0.0.1", "port": 4573, "enabled": True},
                                          {"host": "127.0.0.1", "port": 4574, "enabled": False}]
    response = _post(api, "/api/v1/conference-rooms/", {"site": estate["central"].pk, "number": "801",
                                                        "name": "Taken", "service_code": estate["codes"]["*142"].pk})
    assert response.json()["service_code"] == ["*142 already reaches AGI application CRM."]


def test_an_ipv6_agi_server_has_one_spelling(api, estate):
    """Stored bare, as the page's lines give it: the page shows it back as ``[::1]:4573`` and takes it unchanged,
    and the same server in both spellings is one server listed twice."""
    response = _post(api, "/api/v1/agi-applications/", {"name": "V6", "app_id": "v6", "servers": [
        {"host": "[::1]", "port": 4573}, {"host": "::1", "port": 4573}]})
    assert response.status_code == 400 and "listed twice" in response.json()["servers"][0]
    response = _post(api, "/api/v1/agi-applications/", {"name": "V6", "app_id": "v6",
                                                        "servers": [{"host": "[::1]", "port": 4573}]})
    assert response.status_code == 201 and response.json()["servers"][0]["host"] == "::1"
    assert actions.describe_server(AgiServer.objects.get()) == "[::1]:4573"


def test_a_rooms_pin_goes_in_and_never_comes_out(api, estate):
    response = _post(api, "/api/v1/conference-rooms/", {"site": estate["central"].pk, "number": "800",
                                                        "name": "Board", "pin": "2468"})
    assert response.status_code == 201
    assert "pin" not in response.json() and response.json()["has_pin"] is True
    assert ConferenceRoom.objects.get().pin == "2468"
    assert _post(api, "/api/v1/conference-rooms/", {"site": estate["central"].pk, "number": "801", "name": "x",
                                                    "pin": "12ab"}).status_code == 400


def test_an_announcement_is_uploaded_as_multipart_and_listed_as_metadata(api, estate):
    response = api.post("/api/v1/announcements/", {"name": "Welcome",
                                                   "audio": SimpleUploadedFile("w.wav", wav_bytes(300))})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["duration_ms"] == 300 and body["original_name"] == "w.wav"
    assert body["audio_url"].endswith(".wav") and body["sha256"] in body["audio_url"]
    assert api.post("/api/v1/announcements/", {"name": "Noise", "audio": SimpleUploadedFile(
        "n.wav", b"garbage")}).status_code == 400
    assert _post(api, "/api/v1/announcements/", {"name": "Nothing"}).json() == {
        "audio": ["Choose a sound file to upload."]}
    renamed = api.patch(f"/api/v1/announcements/{body['id']}/", {"name": "Hello"}, content_type="application/json")
    assert renamed.status_code == 200 and renamed.json()["sha256"] == body["sha256"]
    assert Announcement.objects.get().name == "Hello"


def test_a_delegation_token_works_only_on_its_sites_objects(client, estate):
    mine = actions.create_conference_room(actor=SYSTEM, site=estate["branch"], number="800", name="Mine")
    theirs = actions.create_conference_room(actor=SYSTEM, site=estate["central"], number="800", name="Theirs")
    key = create_token(actor=SYSTEM, name="branch", scope=ApiToken.Scope.WRITE, sites=[estate["branch"]])[1]
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    rows = client.get("/api/v1/conference-rooms/", **headers).json()["results"]
    assert [r["id"] for r in rows] == [mine.pk]
    assert client.patch(f"/api/v1/conference-rooms/{theirs.pk}/", {"name": "x"}, content_type="application/json",
                        **headers).status_code == 404
    response = client.post("/api/v1/agi-applications/", {"name": "Estate app", "app_id": "x", "site": None,
                                                         "servers": [{"host": "127.0.0.1"}]},
                           content_type="application/json", **headers)
    assert response.status_code == 400 and "site" in response.json()
    response = client.post("/api/v1/ivr-menus/", {"site": estate["branch"].pk, "name": "Branch",
                                                  "options": [{"key": "1", "action": "room", "room": mine.pk}]},
                           content_type="application/json", **headers)
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("prefix", ["conference-profiles", "conference-rooms", "ivr-menus", "agi-applications",
                                    "announcements"])
def test_a_list_endpoint_costs_the_same_queries_for_two_rows_or_twelve(api, estate, prefix,
                                                                       django_assert_num_queries):
    fill(estate, 800, 2)
    api.get(f"/api/v1/{prefix}/")
    with CaptureQueriesContext(connection) as few:
        assert api.get(f"/api/v1/{prefix}/").status_code == 200
    fill(estate, 900, 10)
    with django_assert_num_queries(len(few.captured_queries)):
        assert api.get(f"/api/v1/{prefix}/").json()["count"] == 12


def test_the_schema_describes_the_media_endpoints(api, estate):
    schema = api.get("/api/schema/?format=json").json()
    for path in ("/api/v1/ivr-menus/", "/api/v1/agi-applications/{id}/", "/api/v1/announcements/"):
        assert path in schema["paths"], path
    menu = schema["components"]["schemas"]["IvrMenu"]["properties"]
    assert menu["options"]["type"] == "array" and menu["hours"]["type"] == "array"
