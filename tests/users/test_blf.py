"""BLF keys (issue 15): each user's ordered list of monitored extensions, through every way in.

The sites fixture: central 1000-3999 and branch1 4000-5999 (one SIP domain), branch2 6000-7999 (another).
"""
from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import AccountProfile
from users import actions, blf, csvio
from users.models import MonitoredExtension, SipUser
from voipadmin.actors import Actor
from voipadmin.api.tokens import create_token
from voipadmin.models import ApiToken, ChangeLogEntry

pytestmark = pytest.mark.django_db

SYSTEM = Actor.command("tests")


def keys_of(user) -> list[tuple[int, str]]:
    return blf.stored(user)


def entries(user, **kw):
    return ChangeLogEntry.objects.filter(content_type__model="sipuser", object_id=str(user.pk), **kw).order_by("pk")


@pytest.fixture
def people(make_user):
    """A receptionist in central and the people she watches: one in central, two in branch1, one in branch2."""
    return {"reception": make_user(1001, name="Reception"), "ana": make_user(1002, name="Ana García"),
            "elena": make_user(4003, site="branch1", name="Elena Ruiz"),
            "pablo": make_user(4004, site="branch1", name="Pablo Díaz"),
            "sara": make_user(6001, site="branch2", name="Sara Moreno")}


# --- the model's invariants (the database holds them even against a write that skips the actions) --------------


@pytest.mark.parametrize("row", [
    {"position": 1, "monitored": "reception"},  # oneself
    {"position": 0, "monitored": "ana"},  # positions start at 1
    {"position": 65, "monitored": "ana"},  # at most 64
    {"position": 2, "monitored": "elena"},  # elena twice
    {"position": 1, "monitored": "pablo"},  # position 1 twice
])
def test_the_database_refuses_a_key_that_breaks_the_rules(people, row):
    reception = people["reception"]
    MonitoredExtension.objects.create(user=reception, position=1, monitored=people["elena"])
    with pytest.raises(IntegrityError), transaction.atomic():
        MonitoredExtension.objects.create(user=reception, position=row["position"], monitored=people[row["monitored"]])


# --- actions -------------------------------------------------------------------------------------------------------


def test_keys_are_an_ordered_list_of_estate_extensions_and_logged_on_the_user(people, actor):
    reception = people["reception"]
    actions.set_monitored_extensions(reception, [(4003, ""), (6001, "Branch 2 desk"), (1002, "Ana García")],
                                     actor=actor)
    rows = list(MonitoredExtension.objects.filter(user=reception).values_list("position", "monitored__extension",
                                                                                "label"))
    # a label equal to the monitored user's name is stored empty: it follows a rename
    assert rows == [(1, 4003, ""), (2, 6001, "Branch 2 desk"), (3, 1002, "")]
    entry = entries(reception, action="update").last()
    assert entry.changes == {"monitored_extensions": [None, "4003;6001:Branch 2 desk;1002"]}
    assert entry.actor == "alice"

    actions.set_monitored_extensions(reception, [(6001, "Branch 2 desk")], actor=actor)
    assert keys_of(reception) == [(6001, "Branch 2 desk")]
    assert entries(reception, action="update").last().changes == {
        "monitored_extensions": ["4003;6001:Branch 2 desk;1002", "6001:Branch 2 desk"]}


def test_every_wrong_key_is_named_and_nothing_is_written(people, actor):
    reception = people["reception"]
    actions.set_monitored_extensions(reception, [(4003, "")], actor=actor)
    before = entries(reception).count()
    with pytest.raises(ValidationError) as exc:
        actions.set_monitored_extensions(reception, [(4004, ""), (9999, ""), (1001, ""), (4004, ""), (1002, "a<b")],
                                         actor=actor)
    messages = exc.value.message_dict["monitored_extensions"]
    assert messages[0] == "Key 2 (9999): 9999 is not an extension of the estate."
    assert messages[1] == "Key 3 (1001): 1001 is the user's own extension."
    assert messages[2] == "Key 4 (4004): 4004 is already key 1."
    assert messages[3].startswith("Key 5 (1002): A name may not contain <")
    assert keys_of(reception) == [(4003, "")] and entries(reception).count() == before


def test_at_most_64_keys(make_user, people, actor):
    for ext in range(1100, 1165):
        make_user(ext)
    with pytest.raises(ValidationError, match="At most 64 keys, not 65"):
        actions.set_monitored_extensions(people["reception"], [(e, "") for e in range(1100, 1165)], actor=actor)
    actions.set_monitored_extensions(people["reception"], [(e, "") for e in range(1100, 1164)], actor=actor)
    assert MonitoredExtension.objects.filter(user=people["reception"]).count() == 64


def test_a_user_is_created_with_its_keys_in_one_log_entry(people, actor, sites):
    user = actions.create_user(actor=actor, extension=1003, name="Desk", site=sites["central"],
                               monitored_extensions=[(1001, ""), (4004, "Pablo")])
    assert keys_of(user) == [(1001, ""), (4004, "Pablo")]
    (entry,) = entries(user)
    assert entry.action == "create" and entry.changes["monitored_extensions"] == [None, "1001;4004:Pablo"]
    with pytest.raises(ValidationError, match="1004 is the user's own extension"):
        actions.create_user(actor=actor, extension=1004, name="Self", site=sites["central"],
                            monitored_extensions=[(1004, "")])
    assert not SipUser.objects.filter(extension=1004).exists()


def test_an_update_without_keys_leaves_them_and_a_key_follows_its_user_to_a_new_extension(people, actor):
    reception = people["reception"]
    actions.set_monitored_extensions(reception, [(4003, "")], actor=actor)
    actions.update_user(reception, actor=actor, email="desk@example.test")
    actions.update_user(people["elena"], actor=actor, extension=4010)
    assert keys_of(reception) == [(4010, "")]


def test_deleting_a_watched_user_removes_its_keys_moves_the_later_ones_up_and_says_so(people, actor):
    reception, ana = people["reception"], people["ana"]
    actions.set_monitored_extensions(reception, [(4003, ""), (1002, "Ana"), (6001, "")], actor=actor)
    actions.set_monitored_extensions(ana, [(4003, ""), (1001, "Front")], actor=actor)

    actions.delete_user(people["elena"], actor=actor)

    assert list(MonitoredExtension.objects.filter(user=reception).values_list("position", "monitored__extension")) \
        == [(1, 1002), (2, 6001)]
    assert keys_of(ana) == [(1001, "Front")]
    entry = entries(reception, action="update").last()
    assert entry.message == "BLF key of deleted user 4003 removed"
    assert entry.changes == {"monitored_extensions": ["4003;1002:Ana;6001", "1002:Ana;6001"]}

    # a deleted user's own keys are in its delete entry, and go with it
    ana_pk = ana.pk
    actions.delete_user(ana, actor=actor)
    deleted = ChangeLogEntry.objects.get(object_id=str(ana_pk), action="delete", content_type__model="sipuser")
    assert deleted.changes["monitored_extensions"] == ["1001:Front", None]
    assert not MonitoredExtension.objects.filter(user_id=ana_pk).exists()
    assert keys_of(reception) == [(6001, "")]


def test_bulk_delete_of_a_watcher_and_the_watched_together(people, actor):
    actions.set_monitored_extensions(people["reception"], [(1002, "")], actor=actor)
    actions.set_monitored_extensions(people["ana"], [(1001, "")], actor=actor)
    assert actions.bulk_delete_users([people["reception"], people["ana"]], actor=actor) == 2
    assert not MonitoredExtension.objects.exists()


# --- the edit page and the user's page -----------------------------------------------------------------------------


def _form(user, **extra):
    data = {"extension": user.extension, "name": user.name, "email": user.email, "site": user.site_id,
            "enabled": "on", "voicemail_enabled": "on", "caller_id": "", "codecs": "", "voicemail_email": ""}
    return {**data, **extra}


def test_the_edit_page_takes_one_key_per_line_and_names_the_offending_lines(admin_client, people):
    reception = people["reception"]
    url = reverse("users:sipuser_edit", args=[reception.pk])
    response = admin_client.post(url, _form(reception, monitored_extensions="4003\n\n4o04, Pablo\n9999\n1001\n"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Line 3: &#x27;4o04&#x27; is not an extension number." in html
    assert "Line 4: 9999 is not an extension of the estate." in html
    assert "Line 5: 1001 is the user&#x27;s own extension." in html
    assert not MonitoredExtension.objects.exists()

    response = admin_client.post(url, _form(reception, monitored_extensions="4003\n\n4004, Pablo, desk 2\n6001"))
    assert response.status_code == 302, response.content.decode()
    assert keys_of(reception) == [(4003, ""), (4004, "Pablo, desk 2"), (6001, "")]
    # the form shows them back as typed (blank lines gone)
    assert "4003\n4004, Pablo, desk 2\n6001</textarea>" in admin_client.get(url).content.decode()


def test_the_users_page_shows_the_keys_with_the_monitored_users_state(admin_client, people, actor,
                                                                      django_assert_max_num_queries):
    reception = people["reception"]
    url = reverse("users:sipuser_detail", args=[reception.pk])
    actions.set_monitored_extensions(reception, [(4003, "")], actor=actor)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        admin_client.get(url)
    actions.set_monitored_extensions(reception, [(4003, ""), (4004, "Pablo"), (6001, ""), (1002, "")], actor=actor)
    with django_assert_max_num_queries(len(one)):
        html = admin_client.get(url).content.decode()
    card = html[html.index('id="blf-keys"'):]
    assert f'<a href="/users/{people["elena"].pk}/">4003</a></td><td>Elena Ruiz</td>' in card
    assert "<td>Pablo</td>" in card and 'data-extension-state="unavailable"' in card


# --- the API -------------------------------------------------------------------------------------------------------


def _auth(key):
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


@pytest.fixture
def write_key(db):
    return create_token(actor=SYSTEM, name="provisioning", scope=ApiToken.Scope.WRITE)[1]


def _send(client, method, url, key, body):
    return client.generic(method, url, json.dumps(body), content_type="application/json", **_auth(key))


def test_the_api_reads_and_replaces_the_keys(client, people, write_key):
    reception = people["reception"]
    url = f"/api/v1/users/{reception.pk}/"
    response = _send(client, "PATCH", url, write_key,
                     {"monitored_extensions": [{"extension": 4003}, {"extension": 6001, "label": "B2"}]})
    assert response.status_code == 200, response.content
    assert response.json()["monitored_extensions"] == [
        {"position": 1, "extension": 4003, "label": "Elena Ruiz"}, {"position": 2, "extension": 6001, "label": "B2"}]
    # what was read, written back, pins nothing: the default label stays the name
    body = client.get(url, **_auth(write_key)).json()
    assert _send(client, "PATCH", url, write_key, {"monitored_extensions": body["monitored_extensions"]}
                 ).status_code == 200
    assert keys_of(reception) == [(4003, ""), (6001, "B2")]
    # positions, given, order the keys; a PATCH without the field keeps them; [] removes them
    _send(client, "PATCH", url, write_key, {"monitored_extensions": [{"position": 2, "extension": 4003},
                                                                     {"position": 1, "extension": 4004}]})
    assert keys_of(reception) == [(4004, ""), (4003, "")]
    _send(client, "PATCH", url, write_key, {"name": "Front desk"})
    assert keys_of(reception) == [(4004, ""), (4003, "")]
    _send(client, "PATCH", url, write_key, {"monitored_extensions": []})
    assert keys_of(reception) == []
    assert entries(reception, actor="token:provisioning", action="update").count() == 4


def test_the_api_answers_400_naming_each_wrong_key(client, people, write_key):
    url = f"/api/v1/users/{people['reception'].pk}/"
    response = _send(client, "PATCH", url, write_key, {"monitored_extensions": [{"extension": 4003}, {"extension": "x"},
                                                                                {"extension": 4003, "label": "a;b"}]})
    assert response.status_code == 400
    errors = response.json()["monitored_extensions"]  # by index in the list sent
    assert set(errors) == {"1", "2"} and errors["1"] == {"extension": ["A valid integer is required."]}
    assert errors["2"]["label"][0].startswith("A name may not contain ;")

    response = _send(client, "PATCH", url, write_key, {"monitored_extensions": [{"extension": 4003}, {"extension": 9999},
                                                                                {"extension": 1001}]})
    assert response.status_code == 400
    assert response.json() == {"monitored_extensions": [
        "Key 2 (9999): 9999 is not an extension of the estate.", "Key 3 (1001): 1001 is the user's own extension."]}

    response = _send(client, "PATCH", url, write_key, {"monitored_extensions": [{"label": "no extension"}]})
    assert response.status_code == 400  # (a PATCH makes nested fields optional: not this one)
    assert response.json() == {"monitored_extensions": {"0": {"extension": ["This field is required."]}}}

    response = _send(client, "PATCH", url, write_key, {"monitored_extensions": [{"position": 1, "extension": 4003},
                                                                                {"position": 3, "extension": 4004}]})
    assert response.status_code == 400 and "position, 1 to 2" in response.content.decode()
    assert not MonitoredExtension.objects.exists()


def test_the_provisioning_endpoint_gives_what_each_key_subscribes_to(client, people, actor, write_key):
    reception = people["reception"]
    actions.set_monitored_extensions(reception, [(6001, ""), (4003, "Elena")], actor=actor)
    response = client.get(f"/api/v1/users/{reception.pk}/blf/", **_auth(write_key))
    assert response.status_code == 200
    assert response.json() == {"id": reception.pk, "extension": 1001, "sip_domain": "voip.example.test", "keys": [
        {"position": 1, "extension": 6001, "label": "Sara Moreno", "uri": "sip:6001@branch2.example.test"},
        {"position": 2, "extension": 4003, "label": "Elena", "uri": "sip:4003@voip.example.test"}]}
    assert client.post(f"/api/v1/users/{reception.pk}/blf/", **_auth(write_key)).status_code == 405


def test_the_users_list_costs_the_same_queries_whatever_the_keys(client, people, actor, write_key, make_user,
                                                               django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    actions.set_monitored_extensions(people["reception"], [(4003, "")], actor=actor)
    client.get("/api/v1/users/", **_auth(write_key))  # (the token's first use is noted once)
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/users/", **_auth(write_key)).status_code == 200
    for ext in range(1010, 1030):
        make_user(ext)
        actions.set_monitored_extensions(SipUser.objects.get(extension=ext), [(4003, ""), (4004, ""), (6001, "x")],
                                         actor=actor)
    with django_assert_num_queries(len(one)):
        body = client.get("/api/v1/users/", {"per_page": 100}, **_auth(write_key)).json()
    assert sum(len(u["monitored_extensions"]) for u in body["results"]) == 1 + 20 * 3


def test_the_openapi_schema_documents_the_keys_and_the_provisioning_endpoint(client, write_key):
    schema = client.get("/api/schema/", {"format": "json"}, **_auth(write_key)).json()
    assert "/api/v1/users/{id}/blf/" in schema["paths"]
    assert "get" in schema["paths"]["/api/v1/users/{id}/blf/"]
    item = schema["components"]["schemas"]["MonitoredExtension"]
    assert set(item["properties"]) == {"position", "extension", "label"}
    assert "monitored_extensions" in schema["components"]["schemas"]["SipUser"]["properties"]


# --- CSV -----------------------------------------------------------------------------------------------------------

HEADER = "extension,name,email,site,blf\n"


def test_the_csv_round_trip_keeps_the_keys(people, actor):
    import io

    actions.set_monitored_extensions(people["reception"], [(4003, ""), (4004, "Pablo: desk")], actor=actor)
    out = io.StringIO()
    csvio.export(SipUser.objects.select_related("site").prefetch_related(blf.keys_prefetch()).order_by("extension"),
                 out)
    text = out.getvalue()
    assert "1001,Reception,1001@example.test,central,,,yes,yes,,,no,,4003;4004:Pablo: desk\n" in text
    report, result = csvio.import_csv(text, actor=SYSTEM)
    assert report.ok and (result.created, result.updated, result.unchanged) == (0, 0, 5)

    edited = text.replace("4003;4004:Pablo: desk", "6001:Sara;4003")
    report, result = csvio.import_csv(edited, actor=SYSTEM)
    assert report.ok and (result.updated, result.unchanged) == (1, 4)
    assert keys_of(people["reception"]) == [(6001, "Sara"), (4003, "")]
    entry = entries(people["reception"], action="update").last()
    assert entry.message == "CSV import: BLF keys"
    assert entry.changes == {"monitored_extensions": ["4003;4004:Pablo: desk", "6001:Sara;4003"]}


def test_a_key_may_name_a_user_created_further_down_the_file(sites):
    report, result = csvio.import_csv(HEADER + "1001,Reception,,central,4001;1002:Ana\n"
                                               "1002,Ana,,central,\n"
                                               "4001,Elena,,branch1,1001\n", actor=SYSTEM)
    assert report.ok, report.errors
    assert result.created == 3
    assert keys_of(SipUser.objects.get(extension=1001)) == [(4001, ""), (1002, "")]  # "Ana" is her name
    assert keys_of(SipUser.objects.get(extension=4001)) == [(1001, "")]


def test_csv_key_errors_name_their_line_and_nothing_is_written(people):
    text = (HEADER +
            "1003,Desk,,central,4003;9999\n"          # 2: unknown extension
            "1004,Desk 2,,central,1004\n"              # 3: its own
            "1005,Desk 3,,central,4003;4x;4003\n"      # 4: not a number
            "1006,Desk 4,,central,4003;4003\n"         # 5: twice
            "1007,Desk 5,,central,4003:a<b\n"          # 6: bad label
            "1001,Reception,,central,7777\n")          # 7: an existing user, unknown key
    report, result = csvio.import_csv(text, actor=SYSTEM)
    assert result is None
    errors = dict(report.errors)
    assert sorted(errors) == [2, 3, 4, 5, 6, 7]
    assert errors[2] == "blf: key 2: 9999 is not an extension of the estate"
    assert errors[3] == "blf: key 1: 1004 is the user's own extension"
    assert errors[4] == "blf: key 2: '4x' is not an extension number"
    assert errors[5] == "blf: key 2: 4003 is already key 1"
    assert errors[6].startswith("blf: key 1: A name may not contain <")
    assert errors[7] == "blf: key 1: 7777 is not an extension of the estate"
    assert report.count("error") == 6
    assert not SipUser.objects.filter(extension__gte=1003, extension__lte=1007).exists()
    assert not MonitoredExtension.objects.exists()


def test_a_file_without_the_column_keeps_the_keys(people, actor):
    actions.set_monitored_extensions(people["reception"], [(4003, "")], actor=actor)
    report, result = csvio.import_csv("extension,name,email,site\n1001,Front desk,,central\n", actor=SYSTEM)
    assert report.ok and result.updated == 1
    assert keys_of(people["reception"]) == [(4003, "")]
    report, result = csvio.import_csv(HEADER + "1001,Front desk,1001@example.test,central,\n", actor=SYSTEM)
    assert report.ok and result.updated == 1 and keys_of(people["reception"]) == []


# --- site-limited accounts (issue 12) ------------------------------------------------------------------------------


@pytest.fixture
def eve(people, sites, django_user_model):
    """Eve administers the branch1 delegation only."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="eve", password="correct horse battery")
    user.groups.add(Group.objects.get(name="Administrator"))
    AccountProfile.objects.create(user=user, site_limited=True).sites.set([sites["branch1"]])
    return user


def test_a_delegation_admin_gives_its_users_keys_of_any_site_and_is_not_told_other_sites_names(client, eve, people,
                                                                                               actor):
    client.force_login(eve)
    elena, reception = people["elena"], people["reception"]
    response = client.post(reverse("users:sipuser_edit", args=[elena.pk]),
                           _form(elena, monitored_extensions="1001\n4004\n6001, Sara"))
    assert response.status_code == 302, response.content.decode()
    assert keys_of(elena) == [(1001, ""), (4004, ""), (6001, "Sara")]
    html = client.get(reverse("users:sipuser_detail", args=[elena.pk])).content.decode()
    card = html[html.index('id="blf-keys"'):]
    assert "<td>1001</td><td>1001</td>" in card and "Reception" not in card  # not a link, not a name
    assert f'<a href="/users/{people["pablo"].pk}/">4004</a></td><td>Pablo Díaz</td>' in card
    body = client.get(f"/api/v1/users/{elena.pk}/blf/").json()
    assert [k["label"] for k in body["keys"]] == ["1001", "Pablo Díaz", "Sara"]
    # another site's user's keys are not hers to read or change
    actions.set_monitored_extensions(reception, [(4003, "")], actor=actor)
    assert client.get(reverse("users:sipuser_edit", args=[reception.pk])).status_code == 404
    assert client.get(f"/api/v1/users/{reception.pk}/blf/").status_code == 404
    assert client.patch(f"/api/v1/users/{reception.pk}/", {"monitored_extensions": []},
                        content_type="application/json").status_code == 404
    assert keys_of(reception) == [(4003, "")]
    # over the API, she gives her users any estate extension too
    response = client.patch(f"/api/v1/users/{people['pablo'].pk}/", {"monitored_extensions": [{"extension": 1002}]},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["monitored_extensions"] == [{"position": 1, "extension": 1002, "label": "1002"}]


def test_a_delegation_admins_csv_import_may_name_any_estate_extension(eve, people):
    report, result = csvio.import_csv(HEADER + "4005,New,,branch1,1001;6001\n", actor=Actor(user=eve, label="eve",
                                                                                              source="ui"))
    assert report.ok, report.errors
    assert keys_of(SipUser.objects.get(extension=4005)) == [(1001, ""), (6001, "")]
