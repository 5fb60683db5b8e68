"""The media applications' pages: rooms, menus (options and open hours as lines), AGI applications, profiles and
announcements — create, edit, refuse with clear errors (nothing typed is lost), delete, audit, site scope, bulk,
and list pages whose query count does not grow with their rows."""
from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountProfile
from media import actions
from media.models import AgiApplication, Announcement, ConferenceRoom, IvrMenu, MenuHours, MenuOption
from voipadmin.models import ChangeLogEntry

from .objects import SYSTEM, fill, small_estate, wav_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(db):
    return small_estate()


def _room(estate, number="800", site="central", **fields):
    return actions.create_conference_room(actor=SYSTEM, site=estate[site], number=number, name=f"Room {number}",
                                          **fields)


def _errors(response, field):
    return [str(e) for e in response.context["form"].errors.get(field, [])]


def test_a_service_codes_page_links_what_the_code_reaches(admin_client, estate):
    room = _room(estate, service_code=estate["codes"]["*141"])
    page = admin_client.get(estate["codes"]["*141"].get_absolute_url()).content.decode()
    assert f'<a href="{room.get_absolute_url()}">conference room: 800 Room 800</a>' in page
    page = admin_client.get(estate["codes"]["*142"].get_absolute_url()).content.decode()
    assert "Nothing yet: callers hear “service unavailable”." in page
    page = admin_client.get(estate["codes"]["*126"].get_absolute_url()).content.decode()
    assert "The caller&#x27;s site&#x27;s conference rooms" in page
    page = admin_client.get(estate["codes"]["*123"].get_absolute_url()).content.decode()
    assert "conference room" not in page and "Nothing yet" not in page


# --- rooms ---------------------------------------------------------------------------------------------------------


def test_an_administrator_creates_a_room_on_its_code_and_the_change_is_logged(admin_client, estate):
    code = estate["codes"]["*141"]
    response = admin_client.post("/media/rooms/add/", {"site": estate["central"].pk, "number": "800",
                                                       "name": "Board room", "pin": "4321", "service_code": code.pk,
                                                       "enabled": "on"})
    room = ConferenceRoom.objects.get(number="800")
    assert response.status_code == 302 and response["Location"] == room.get_absolute_url()
    assert (room.pin, room.service_code, room.site) == ("4321", code, estate["central"])
    entry = ChangeLogEntry.objects.get(object_id=str(room.pk), action="create", content_type__model="conferenceroom")
    assert entry.changes["pin"][1] != "4321"  # (a PIN is masked in the log)
    page = admin_client.get(room.get_absolute_url()).content.decode()
    assert "dial *141" in page and "4321" not in page


def test_a_room_refuses_a_code_of_another_kind_and_a_code_already_taken(admin_client, estate):
    menu = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Main",
                                   service_code=estate["codes"]["*141"])
    with pytest.raises(Exception) as refused:
        _room(estate, service_code=estate["codes"]["*126"])
    assert "kind" in str(refused.value)
    response = admin_client.post("/media/rooms/add/", {"site": estate["central"].pk, "number": "801", "name": "Two",
                                                       "service_code": estate["codes"]["*141"].pk, "enabled": "on"})
    assert response.status_code == 400
    assert _errors(response, "service_code") == [f"*141 already reaches IVR menu {menu}."]
    assert 'value="Two"' in response.content.decode()  # nothing typed is lost
    assert not ConferenceRoom.objects.filter(number="801").exists()


def test_a_room_number_is_unique_per_site_only_and_a_pin_is_digits(admin_client, estate):
    _room(estate)
    _room(estate, site="branch")  # the same number on another site is another room
    response = admin_client.post("/media/rooms/add/", {"site": estate["central"].pk, "number": "800", "name": "Dup",
                                                       "pin": "12ab"})
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["pin"] and form.non_field_errors() or form.errors.get("__all__") or form.errors
    assert ConferenceRoom.objects.count() == 2


def test_a_room_a_menu_sends_callers_to_cannot_be_deleted(admin_client, estate):
    room = _room(estate)
    menu = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Main",
                                   options=[{"key": "2", "action": "room", "room": room}])
    response = admin_client.post(f"/media/rooms/{room.pk}/delete/", follow=True)
    assert ConferenceRoom.objects.filter(pk=room.pk).exists()
    assert f"Menu(s) {menu} still send callers here" in response.content.decode()


# --- menus ---------------------------------------------------------------------------------------------------------


def _menu_form(estate, **overrides):
    data = {"site": estate["central"].pk, "name": "Main menu", "prompt_sound": "demo-congrats", "timeout": 5,
            "attempts": 3, "service_code": estate["codes"]["*141"].pk, "enabled": "on",
            "option_lines": "1 extension 1001\n2 room 800\n\n# operator\n0 ext 1002\ntimeout repeat\ninvalid hangup",
            "hours_lines": "mon-fri 09:00-18:00\nsat 10:00-14:00"}
    return {**data, **overrides}


def test_a_menu_is_written_with_its_options_and_hours_in_one_change(admin_client, estate):
    room = _room(estate)
    response = admin_client.post("/media/menus/add/", _menu_form(estate))
    assert response.status_code == 302, response.context["form"].errors
    menu = IvrMenu.objects.get(name="Main menu")
    options = {o.key: (o.action, o.value, o.room) for o in menu.options.all()}
    assert options == {"1": ("extension", "1001", None), "2": ("room", "", room), "0": ("extension", "1002", None),
                       "timeout": ("repeat", "", None), "invalid": ("hangup", "", None)}
    assert [(h.weekday, h.opens, h.closes) for h in menu.hours.all()][-1] == (5, datetime.time(10),
                                                                                 datetime.time(14))
    assert menu.hours.count() == 6
    entry = ChangeLogEntry.objects.get(object_id=str(menu.pk), action="create", content_type__model="ivrmenu")
    assert entry.changes["options"][1] == "0 extension 1002; 1 extension 1001; 2 room 800; timeout repeat; " \
                                          "invalid hangup"
    edit = admin_client.get(f"/media/menus/{menu.pk}/edit/").content.decode()
    assert "1 extension 1001\n2 room 800" in edit and "mon 09:00-18:00" in edit
    detail = admin_client.get(menu.get_absolute_url()).content.decode()
    assert room.get_absolute_url() in detail and "Always open" not in detail


def test_every_bad_option_line_is_named_by_its_number_and_nothing_is_lost(admin_client, estate):
    _room(estate, site="branch")
    lines = ("1 extension 1999\n"       # nobody has it
             "2 room 800\n"             # branch's room, not central's
             "3 teleport 1001\n"        # no such action
             "4 voicemail 1002\n"       # no voicemail
             "5 menu\n"                 # no target
             "6 hangup now\n"           # takes nothing
             "1 repeat\n"               # key 1 twice
             "x extension 1001")        # not a key
    response = admin_client.post("/media/menus/add/", _menu_form(estate, option_lines=lines,
                                                                  hours_lines="mon 18:00-09:00\nsomeday 1-2"))
    assert response.status_code == 400
    errors = _errors(response, "option_lines")
    assert "Line 1: no user has extension 1999." in errors
    assert "Line 2: no room “800” on site Central." in errors
    assert any(e.startswith("Line 3: “teleport” is not an action") for e in errors)
    assert "Line 4: extension 1002 has no voicemail." in errors
    assert "Line 5: choose the target menu." in errors
    assert "Line 6: “hangup” takes nothing after it." in errors
    assert "Line 7: key 1 has two options." in errors
    assert any(e.startswith("Line 8: ") for e in errors)
    hours = _errors(response, "hours_lines")
    assert hours == ["Line 2: write days and times like “mon-fri 09:00-18:00”.",
                     "Line 1: it must open before it closes."]
    assert "3 teleport 1001" in response.content.decode()
    assert not IvrMenu.objects.exists()


def test_a_menu_cannot_be_its_own_option_or_after_hours_menu_but_can_nest(admin_client, estate):
    sales = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Sales")
    main = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Main",
                                   options=[{"key": "1", "action": "menu", "target_menu": sales}])
    # a cycle deeper than one level is allowed (the runtime limits the depth)
    actions.update_ivr_menu(sales, actor=SYSTEM, options=[{"key": "9", "action": "menu", "target_menu": main}])
    response = admin_client.post(f"/media/menus/{main.pk}/edit/", _menu_form(
        estate, name="Main", service_code="", option_lines="1 menu Main", after_hours_menu=main.pk))
    assert response.status_code == 400
    assert _errors(response, "option_lines") == ["Line 1: a menu cannot send callers to itself (use “repeat”)."]
    assert _errors(response, "after_hours_menu")  # (not offered: an invalid choice)
    with pytest.raises(Exception) as refused:
        actions.update_ivr_menu(main, actor=SYSTEM, after_hours_menu=main)
    assert "another menu" in str(refused.value)
    assert MenuOption.objects.get(menu=main).target_menu == sales


def test_an_unchanged_edit_keeps_options_and_a_menu_in_use_is_not_deleted(admin_client, estate):
    sales = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Sales",
                                    hours=[{"weekday": 0, "opens": datetime.time(9), "closes": datetime.time(17)}])
    main = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Main", after_hours_menu=sales,
                                   options=[{"key": "1", "action": "menu", "target_menu": sales}])
    actions.update_ivr_menu(main, actor=SYSTEM, timeout=7)  # options / hours not given: kept
    assert main.options.count() == 1
    with pytest.raises(Exception) as refused:
        actions.delete_ivr_menu(sales, actor=SYSTEM)
    assert "Main" in str(refused.value)
    assert MenuHours.objects.filter(menu=sales).count() == 1


def test_the_edit_page_takes_its_own_lines_back_unchanged(admin_client, estate):
    """The "#" key is an option, not a comment; a "#" in a menu's name is a name; 24:00 stays midnight."""
    sales = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Sales #2")
    main = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Main", options=[
        {"key": "#", "action": "repeat"}, {"key": "1", "action": "menu", "target_menu": sales}],
        hours=[{"weekday": 5, "opens": datetime.time(10), "closes": actions.UNTIL_MIDNIGHT}])
    form = admin_client.get(f"/media/menus/{main.pk}/edit/").context["form"]
    assert form["option_lines"].value() == "1 menu Sales #2\n# repeat"
    assert form["hours_lines"].value() == "sat 10:00-24:00"
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
    response = admin_client.post(f"/media/menus/{main.pk}/edit/", {**data, "enabled": "on", "timeout": 9})
    assert response.status_code == 302, response.context["form"].errors
    assert sorted(main.options.values_list("key", "target_menu")) == [("#", None), ("1", sales.pk)]
    assert main.hours.get().closes == actions.UNTIL_MIDNIGHT


# --- AGI applications ----------------------------------------------------------------------------------------------


def test_an_agi_application_needs_an_enabled_server_to_be_enabled(admin_client, estate):
    data = {"name": "CRM", "site": "", "app_type": "crm", "app_id": "crm-1", "script": "lookup",
            "strategy": "failover", "enabled": "on", "server_lines": ""}
    response = admin_client.post("/media/agi/add/", data)
    assert response.status_code == 400
    assert "at least one enabled server" in response.content.decode()
    response = admin_client.post("/media/agi/add/", {**data, "server_lines": "127.0.0.1:4573 disabled\nnot a:server:x"})
    assert _errors(response, "server_lines") == ["Line 2: write a server as host:port, e.g. agi.example.test:4573 "
                                                 "(add “disabled” to keep it listed but unused)."]
    response = admin_client.post("/media/agi/add/", {**data, "server_lines": "127.0.0.1:4573\n[::1]\n127.0.0.1:4573"})
    assert "Server 3: 127.0.0.1:4573 is listed twice." in response.content.decode()
    response = admin_client.post("/media/agi/add/", {**data, "server_lines": "127.0.0.1:4573\n[::1]:4574 disabled"})
    app = AgiApplication.objects.get(name="CRM")
    assert response.status_code == 302
    assert [(s.host, s.port, s.position, s.enabled) for s in app.servers.all()] == [
        ("127.0.0.1", 4573, 1, True), ("::1", 4574, 2, False)]
    page = admin_client.get(app.get_absolute_url()).content.decode()
    assert "AGI(agi://127.0.0.1:4573/lookup?appid=crm-1&amp;apptype=crm)" in page


# --- announcements -------------------------------------------------------------------------------------------------


def test_an_announcement_is_uploaded_converted_and_refused_when_not_audio(admin_client, estate):
    response = admin_client.post("/media/announcements/add/", {
        "name": "Welcome", "description": "", "site": "",
        "audio": SimpleUploadedFile("welcome.wav", wav_bytes(500, rate=16000), content_type="audio/wav")})
    assert response.status_code == 302
    a = Announcement.objects.get(name="Welcome")
    assert a.original_name == "welcome.wav" and 400 <= a.duration_ms <= 600 and len(a.sha256) == 64
    assert bytes(a.audio)[:4] == b"RIFF"
    entry = ChangeLogEntry.objects.get(object_id=str(a.pk), content_type__model="announcement")
    assert "audio" not in entry.changes and entry.changes["sha256"][1] == a.sha256
    response = admin_client.post(f"/media/announcements/{a.pk}/edit/", {
        "name": "Welcome", "audio": SimpleUploadedFile("notes.txt", b"not a sound at all")})
    assert response.status_code == 400 and _errors(response, "audio")
    response = admin_client.post(f"/media/announcements/{a.pk}/edit/", {"name": "Welcome!", "description": "new"})
    a.refresh_from_db()
    assert response.status_code == 302 and a.name == "Welcome!" and bytes(a.audio)[:4] == b"RIFF"
    assert "<audio" in admin_client.get(a.get_absolute_url()).content.decode()


# --- site scope, roles, bulk ---------------------------------------------------------------------------------------


@pytest.fixture
def eve_client(client, estate, django_user_model):
    """Eve administers branch1 only."""
    eve = django_user_model.objects.create_user(username="eve", password="x")
    eve.groups.add(Group.objects.get(name="Administrator"))
    AccountProfile.objects.create(user=eve, site_limited=True).sites.set([estate["branch"]])
    client.force_login(eve)
    return client


def test_a_delegation_administrator_manages_only_its_own_sites_rooms_and_menus(eve_client, estate):
    mine, theirs = _room(estate, site="branch"), _room(estate)
    menu = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Central menu")
    body = eve_client.get("/media/rooms/").content.decode()
    assert mine.get_absolute_url() in body and theirs.get_absolute_url() not in body
    assert eve_client.get(theirs.get_absolute_url()).status_code == 404
    assert eve_client.get(f"/media/menus/{menu.pk}/edit/").status_code == 404
    assert eve_client.post(f"/media/rooms/{theirs.pk}/delete/").status_code == 404
    response = eve_client.post("/media/rooms/add/", {"site": estate["central"].pk, "number": "900", "name": "x"})
    assert response.status_code == 400 and _errors(response, "site")
    response = eve_client.post("/media/agi/add/", {"name": "Mine", "site": "", "app_type": "x", "app_id": "x",
                                                   "strategy": "failover", "server_lines": "127.0.0.1"})
    assert response.status_code == 400 and _errors(response, "site")  # never an estate-wide one
    response = eve_client.post("/media/menus/add/", {"site": estate["branch"].pk, "name": "Branch menu", "timeout": 5,
                                                     "attempts": 3, "enabled": "on", "option_lines": "1 room 800"})
    assert response.status_code == 302
    assert IvrMenu.objects.get(name="Branch menu").options.get().room == mine
    assert eve_client.get("/media/profiles/add/").status_code == 403  # profiles are the estate's


def test_the_helpdesk_sees_none_of_it(helpdesk_client, estate):
    room = _room(estate)
    for url in ("/media/", "/media/rooms/", room.get_absolute_url(), "/media/menus/add/", "/media/announcements/"):
        assert helpdesk_client.get(url).status_code == 403, url


def test_rooms_are_disabled_in_bulk_after_a_confirmation(admin_client, estate):
    rooms = [_room(estate, number=str(n)) for n in (800, 801)]
    pks = [r.pk for r in rooms]
    page = admin_client.post("/media/rooms/bulk/disable/", {"pk": pks})
    assert page.status_code == 200 and not ConferenceRoom.objects.filter(enabled=False).exists()
    response = admin_client.post("/media/rooms/bulk/disable/", {"pk": pks, "confirm": "1"})
    assert response.status_code == 302 and ConferenceRoom.objects.filter(enabled=False).count() == 2
    assert ChangeLogEntry.objects.filter(content_type__model="conferenceroom", action="update").count() == 2


# --- list pages: a constant number of queries ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/media/rooms/", "/media/menus/", "/media/agi/", "/media/profiles/",
                                 "/media/announcements/"])
def test_a_list_page_costs_the_same_queries_for_two_rows_or_twelve(admin_client, estate, url,
                                                                   django_assert_num_queries):
    fill(estate, 800, 2)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    fill(estate, 900, 10)
    with django_assert_num_queries(len(few.captured_queries)):
        body = admin_client.get(url).content.decode()
    assert "909" in body or "Sound 909" in body or "P900" in body


# --- which announcement a site plays ------------------------------------------------------------------------------


def test_a_site_chooses_its_announcement_per_purpose_and_the_estate_its_default(admin_client, estate):
    from media.models import SiteAnnouncement
    from media.sounds import site_announcement

    mine = actions.create_announcement(actor=SYSTEM, name="Branch ringback", site=estate["branch"],
                                       upload=wav_bytes(100))
    shared = actions.create_announcement(actor=SYSTEM, name="Estate ringback", upload=wav_bytes(100))
    response = admin_client.post("/media/site-announcements/add/", {"site": "", "purpose": "ringback",
                                                                    "announcement": shared.pk})
    assert response.status_code == 302
    response = admin_client.post("/media/site-announcements/add/", {"site": estate["central"].pk,
                                                                    "purpose": "ringback", "announcement": mine.pk})
    assert response.status_code == 400 and _errors(response, "announcement") == [
        "This announcement belongs to another site."]
    actions.set_site_announcement(actor=SYSTEM, site=estate["branch"], purpose="ringback", announcement=mine)
    assert site_announcement(estate["branch"], "ringback") == mine
    assert site_announcement(estate["central"], "ringback") == shared
    actions.set_site_announcement(actor=SYSTEM, site=estate["branch"], purpose="ringback", announcement=None)
    assert site_announcement(estate["branch"], "ringback") == shared
    assert "Estate ringback" in admin_client.get("/media/site-announcements/").content.decode()
    with pytest.raises(Exception):  # one estate default per purpose
        actions.create_site_announcement(actor=SYSTEM, site=None, purpose="ringback", announcement=shared)
    assert SiteAnnouncement.objects.count() == 1
    with pytest.raises(Exception) as refused:
        actions.delete_announcement(shared, actor=SYSTEM)
    assert "It is played for estate: Ringback." in str(refused.value)


def test_a_code_that_reaches_an_object_keeps_its_kind_and_is_not_deleted_from_under_it(admin_client, estate):
    from services import actions as service_actions

    code = estate["codes"]["*141"]
    menu = actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name="Main", service_code=code)
    with pytest.raises(Exception) as refused:
        service_actions.update_service_code(code, actor=SYSTEM, kind="echo")
    assert f"*141 reaches IVR menu {menu}" in str(refused.value)
    response = admin_client.post(f"/services/codes/{code.pk}/delete/", follow=True)
    assert "choose another code for it first" in response.content.decode()
    actions.update_ivr_menu(menu, actor=SYSTEM, service_code=None)
    service_actions.delete_service_code(code, actor=SYSTEM)
