"""Portal accounts in the portal: Alice (an estate administrator) creates, edits, disables and resets accounts,
each change audited; the rules that keep the estate administrable refuse with a clear message; Bob (helpdesk) and
Charlie (no role) are refused; every account sets its own language and time zone on "My account"."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import actions
from accounts.models import AccountProfile
from sites import actions as site_actions
from voipadmin.actors import Actor
from voipadmin.models import ChangeLogEntry

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "correct horse battery"


@pytest.fixture
def sites(db):
    command = Actor.command("tests")
    return {slug: site_actions.create_site(actor=command, name=name, slug=slug, kind=kind,
                                           sip_domain="voip.example.test", ranges=[rng])
            for slug, name, kind, rng in (("central", "Central", "central", (1000, 3999)),
                                          ("branch1", "Branch 1", "delegation", (4000, 5999)),
                                          ("branch2", "Branch 2", "delegation", (6000, 7999)))}


def _form(**fields):
    data = {"first_name": "Elena", "last_name": "García", "email": "elena@example.test", "role": "Administrator",
            "scope": "estate", "language": "", "time_zone": ""}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def _entries(user):
    return ChangeLogEntry.objects.filter(content_type__app_label="auth", content_type__model="user",
                                         object_id=str(user.pk)).order_by("pk")


def _password_is(username: str, password: str) -> bool:
    return User.objects.get(username=username).check_password(password)


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_an_administrator_creates_an_account_and_sees_its_password_once(admin_client, alice, sites):
    response = admin_client.post(reverse("accounts:user_add"), _form(
        username="elena", role="Helpdesk", scope="sites", sites=[sites["branch1"].pk], language="es",
        time_zone="Europe/Madrid"))
    elena = User.objects.get(username="elena")
    assert response.status_code == 302 and response["Location"] == reverse("accounts:user_detail", args=[elena.pk])
    page = admin_client.get(response["Location"]).content.decode()
    password = re.search(r'id="shown-password">([^<]+)<', page).group(1)
    assert _password_is("elena", password)
    assert 'id="shown-password"' not in admin_client.get(response["Location"]).content.decode()  # once
    assert not elena.is_staff and not elena.is_superuser and elena.groups.get().name == "Helpdesk"
    assert elena.profile.site_limited and list(elena.profile.sites.all()) == [sites["branch1"]]
    assert (elena.profile.language, elena.profile.time_zone) == ("es", "Europe/Madrid")
    entry = _entries(elena).get()
    assert entry.action == "create" and entry.user == alice and entry.source == "ui"
    assert entry.changes["role"] == [None, "Helpdesk"] and entry.changes["sites"] == [None, ["Branch 1"]]
    assert entry.changes["site_limited"] == [None, True] and entry.changes["language"] == [None, "es"]
    assert entry.changes["password"] == [None, "********"]  # never the hash
    assert "password issued once" in entry.message


def test_a_typed_password_must_pass_the_password_rules(admin_client, sites):
    response = admin_client.post(reverse("accounts:user_add"), _form(username="elena", password="short"))
    assert response.status_code == 400 and not User.objects.filter(username="elena").exists()
    assert response.context["form"].errors["password"]
    response = admin_client.post(reverse("accounts:user_add"), _form(username="elena", password="tinned pears 1984"))
    assert response.status_code == 302 and _password_is("elena", "tinned pears 1984")


def test_an_administrator_edits_an_account_and_the_change_is_audited(admin_client, bob, sites):
    response = admin_client.post(reverse("accounts:user_edit", args=[bob.pk]), _form(
        role="Administrator", scope="sites", sites=[sites["branch1"].pk, sites["branch2"].pk], first_name="Bob",
        last_name="Smith", email="bob@branch.test", time_zone="Atlantic/Canary"))
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.groups.get().name == "Administrator" and bob.get_full_name() == "Bob Smith"
    assert sorted(s.slug for s in bob.profile.sites.all()) == ["branch1", "branch2"]
    entry = _entries(bob).get()
    assert entry.action == "update"
    assert entry.changes["role"] == ["Helpdesk", "Administrator"]
    assert entry.changes["sites"] == [[], ["Branch 1", "Branch 2"]]
    assert entry.changes["email"] == ["bob@example.test", "bob@branch.test"]
    assert entry.changes["time_zone"] == ["", "Atlantic/Canary"]
    page = admin_client.get(reverse("accounts:user_detail", args=[bob.pk])).content.decode()
    assert "Branch 1, Branch 2" in page and "Atlantic/Canary" in page


def test_a_site_limited_account_needs_a_site_and_loses_django_admin(admin_client, alice, sites):
    carol = User.objects.create_user("carol", password=PASSWORD, is_staff=True, is_superuser=True)
    carol.groups.add(Group.objects.get(name="Administrator"))
    response = admin_client.post(reverse("accounts:user_edit", args=[carol.pk]), _form(scope="sites"))
    assert response.status_code == 400
    assert "at least one site" in str(response.context["form"].errors["sites"])
    with pytest.raises(ValidationError, match="at least one site"):
        actions.update_account(carol, actor=Actor(user=alice, label="alice"), role="Administrator",
                               site_limited=True, sites=[])
    response = admin_client.post(reverse("accounts:user_edit", args=[carol.pk]),
                                 _form(scope="sites", sites=[sites["branch1"].pk]))
    carol.refresh_from_db()
    assert response.status_code == 302 and not carol.is_staff and not carol.is_superuser


def test_an_account_cannot_disable_itself_nor_drop_its_own_administrator_role(admin_client, alice, sites):
    carol = User.objects.create_user("carol", password=PASSWORD)  # another administrator: not the last rule
    carol.groups.add(Group.objects.get(name="Administrator"))
    response = admin_client.post(reverse("accounts:user_disable", args=[alice.pk]), follow=True)
    assert "You cannot disable your own account." in _messages(response)
    response = admin_client.post(reverse("accounts:user_edit", args=[alice.pk]), _form(role="Helpdesk"))
    assert response.status_code == 400
    assert "You cannot remove your own Administrator role." in str(response.context["form"].errors["role"])
    response = admin_client.post(reverse("accounts:user_edit", args=[alice.pk]),
                                 _form(scope="sites", sites=[sites["branch1"].pk]))
    assert response.status_code == 400 and "cannot limit your own account" in str(response.context["form"].errors)
    alice.refresh_from_db()
    assert alice.is_active and alice.groups.get().name == "Administrator" and not _entries(alice).exists()


def test_the_last_active_estate_wide_administrator_cannot_be_disabled_or_demoted(admin_client, alice, bob, sites):
    carol = User.objects.create_user("carol", password=PASSWORD)
    carol.groups.add(Group.objects.get(name="Administrator"))
    by_system = Actor(user=None, label="tests")
    actions.set_active(alice, actor=Actor(user=carol, label="carol"), active=False)  # two of them: one may go
    actions.set_active(alice, actor=by_system, active=True)
    actions.set_active(carol, actor=Actor(user=alice, label="alice"), active=False)  # now alice is the only one
    response = admin_client.post(reverse("accounts:user_edit", args=[carol.pk]), _form(role="Helpdesk"))
    assert response.status_code == 302  # (a disabled administrator is no estate administrator: it may change)
    for change in (lambda: actions.set_active(alice, actor=by_system, active=False),
                   lambda: actions.update_account(alice, actor=by_system, role="Billing"),
                   lambda: actions.update_account(alice, actor=by_system, role="Administrator", site_limited=True,
                                                  sites=[sites["branch1"]])):
        with pytest.raises(ValidationError, match="alice is the last active estate-wide administrator"):
            change()
    alice.refresh_from_db()
    assert alice.is_active and alice.groups.get().name == "Administrator"
    assert not AccountProfile.objects.filter(user=alice, site_limited=True).exists()


def test_a_disabled_account_loses_its_session_and_can_be_enabled_again(admin_client, bob):
    bobs = Client()
    bobs.force_login(bob)
    assert bobs.get(reverse("users:sipuser_list")).status_code == 200
    assert admin_client.get(reverse("accounts:user_disable", args=[bob.pk])).status_code == 200
    response = admin_client.post(reverse("accounts:user_disable", args=[bob.pk]), follow=True)
    assert "Account bob disabled." in _messages(response)
    assert bobs.get(reverse("users:sipuser_list")).status_code == 302  # to the login page
    assert [e.message for e in _entries(bob)] == ["account disabled"]
    assert _entries(bob).get().changes == {"is_active": [True, False]}
    admin_client.post(reverse("accounts:user_enable", args=[bob.pk]))
    bob.refresh_from_db()
    assert bob.is_active and _entries(bob).last().changes == {"is_active": [False, True]}


def test_a_password_reset_issues_a_new_one_once_and_ends_the_old(admin_client, bob):
    bobs = Client()
    bobs.force_login(bob)
    response = admin_client.post(reverse("accounts:user_reset_password", args=[bob.pk]), follow=True)
    password = re.search(r'id="shown-password">([^<]+)<', response.content.decode()).group(1)
    assert not _password_is("bob", PASSWORD)
    assert _password_is("bob", password)
    assert bobs.get(reverse("users:sipuser_list")).status_code == 302  # the old session ended
    entry = _entries(bob).get()
    assert entry.message == "password reset; new one issued once"
    assert entry.changes == {"password": ["********", "******** (changed)"]}


@pytest.mark.parametrize("persona", ["bob", "charlie"])
def test_helpdesk_and_accounts_without_a_role_are_refused(client, persona, request, alice):
    client.force_login(request.getfixturevalue(persona))
    for name, args in (("user_list", []), ("user_add", []), ("user_detail", [alice.pk]), ("user_edit", [alice.pk]),
                       ("user_disable", [alice.pk]), ("user_enable", [alice.pk]),
                       ("user_reset_password", [alice.pk])):
        url = reverse(f"accounts:{name}", args=args)
        assert client.get(url).status_code == 403, url
        assert client.post(url, _form(username="mallory")).status_code == 403, url
    assert not User.objects.filter(username="mallory").exists() and User.objects.get(pk=alice.pk).is_active


def test_a_site_limited_administrator_cannot_manage_accounts(client, alice, sites):
    dora = User.objects.create_user("dora", password=PASSWORD)
    actions.update_account(dora, actor=Actor(user=alice, label="alice"), role="Administrator", site_limited=True,
                           sites=[sites["branch1"]])
    client.force_login(User.objects.get(pk=dora.pk))
    assert client.get(reverse("accounts:user_list")).status_code == 403
    assert client.get(reverse("accounts:me")).status_code == 200


def test_the_list_shows_each_account_in_a_constant_number_of_queries(admin_client, alice, bob, sites,
                                                                     django_assert_num_queries):
    by_alice = Actor(user=alice, label="alice")
    actions.create_account(actor=by_alice, username="first", role="Billing", site_limited=True,
                           sites=[sites["central"]])
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(reverse("accounts:user_list")).status_code == 200
    for i in range(12):
        actions.create_account(actor=by_alice, username=f"user{i}", role="Helpdesk", site_limited=bool(i % 2),
                               sites=[sites["branch1"], sites["branch2"]], language="es")
    AccountProfile.objects.filter(user__username="user3").update(totp_secret="JBSWY3DPEHPK3PXP",
                                                                 totp_confirmed_at="2026-01-01T00:00:00Z")
    with django_assert_num_queries(len(few)):
        response = admin_client.get(reverse("accounts:user_list"))
    rows = _rows(response)
    assert len(rows) == 15
    assert "Whole estate" in rows["alice"] and "Administrator" in rows["alice"]
    assert "Branch 1, Branch 2" in rows["user1"] and "Helpdesk" in rows["user1"] and "Español" in rows["user1"]
    assert rows["user3"].count("text-success") == 2 and rows["user1"].count("text-success") == 1  # 2FA, active


def _rows(response) -> dict[str, str]:
    """The list's rows: username → the rest of the row's cells."""
    return dict(re.findall(r'<tr><td><a href="/accounts/\d+/">([^<]+)</a></td>(.*?)</tr>', response.content.decode()))


def test_the_list_filters_by_role_and_search(admin_client, alice, bob, charlie):
    assert set(_rows(admin_client.get(reverse("accounts:user_list")))) == {"alice", "bob", "charlie"}
    assert set(_rows(admin_client.get(reverse("accounts:user_list") + "?role=Helpdesk"))) == {"bob"}
    assert set(_rows(admin_client.get(reverse("accounts:user_list") + "?q=alice@"))) == {"alice"}


def test_every_account_sets_its_own_language_and_time_zone(helpdesk_client, bob):
    page = helpdesk_client.get(reverse("accounts:me"))
    assert page.status_code == 200 and reverse("accounts:password_change") in page.content.decode()
    response = helpdesk_client.post(reverse("accounts:me"), {"language": "es", "time_zone": "Europe/Madrid"})
    assert response.status_code == 302
    bob.refresh_from_db()
    assert (bob.profile.language, bob.profile.time_zone) == ("es", "Europe/Madrid")
    assert _entries(bob).get().changes == {"language": ["", "es"], "time_zone": ["", "Europe/Madrid"]}
    following = helpdesk_client.get(reverse("users:sipuser_list"))
    assert following.wsgi_request.LANGUAGE_CODE == "es" and following["Content-Language"] == "es"
    response = helpdesk_client.post(reverse("accounts:me"), {"language": "xx", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400 and set(response.context["form"].errors) == {"language", "time_zone"}


def test_an_account_changes_its_own_password_audited_and_stays_signed_in(helpdesk_client, bob):
    response = helpdesk_client.post(reverse("accounts:password_change"), {
        "old_password": PASSWORD, "new_password1": "tinned pears 1984", "new_password2": "tinned pears 1984"})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_change_done")
    assert helpdesk_client.get(reverse("accounts:me")).status_code == 200  # this session goes on
    assert _password_is("bob", "tinned pears 1984")
    entry = _entries(bob).get()
    assert entry.message == "password changed by its owner" and entry.user == bob
    response = helpdesk_client.post(reverse("accounts:password_change"), {
        "old_password": "wrong", "new_password1": "x", "new_password2": "x"})
    assert response.status_code == 200 and response.context["form"].errors


def test_my_account_needs_a_login(client):
    response = client.get(reverse("accounts:me"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_accounts_history_is_the_audit_log_filtered_to_it(admin_client, bob):
    admin_client.post(reverse("accounts:user_disable", args=[bob.pk]))
    page = admin_client.get(reverse("accounts:user_detail", args=[bob.pk])).content.decode()
    history = re.search(r'id="object-history" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    log = admin_client.get(history)
    assert log.status_code == 200 and "account disabled" in log.content.decode()
