"""User pages: Alice administers, Bob (helpdesk) finds users and resets PINs only, Charlie sees nothing."""
import re

import pytest
from django.urls import reverse

from users.models import SipUser
from voipadmin.kamailio import hashing
from voipadmin.kamailio.models import Subscriber
from voipadmin.models import ChangeLogEntry

pytestmark = pytest.mark.django_db


def list_url(**q):
    from urllib.parse import urlencode

    return reverse("users:sipuser_list") + ("?" + urlencode(q) if q else "")


def test_the_list_uses_a_constant_number_of_queries(admin_client, make_user, django_assert_max_num_queries):
    make_user(1001)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(list_url()).status_code == 200
    for ext in range(1002, 1041):
        make_user(ext)
    make_user(4001, site="branch1")
    with django_assert_max_num_queries(len(one)):
        response = admin_client.get(list_url(per_page=100))
    assert response.content.decode().count("/users/") >= 41


def test_the_list_counts_its_rows_without_the_site_join_and_shows_and_sorts_by_site(admin_client, make_user):
    """The site's name is the page's only join (users.views: with_columns): the count for the paginator reads the
    users table alone, the 50 rows read their site's name with them, and the site column still sorts."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_user(1001, name="Central one")
    make_user(4001, site="branch1", name="Branch one")
    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get(list_url(per_page=1)).content.decode()
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1 and "sites_site" not in counts[0]
    assert "2 in all" in html
    rows = [q["sql"] for q in queries if '"users_sipuser"."extension"' in q["sql"] and "LIMIT" in q["sql"]]
    assert len(rows) == 1 and "sites_site" in rows[0]

    def sites_shown(**q):
        html = admin_client.get(list_url(**q)).content.decode()
        return re.findall(r'<td>Central one</td><td>[^<]*</td><td>([^<]+)</td>|'
                          r'<td>Branch one</td><td>[^<]*</td><td>([^<]+)</td>', html)

    ascending = ["".join(pair) for pair in sites_shown(sort="site__name")]
    assert len(ascending) == 2 and ascending == sorted(ascending)
    assert ["".join(pair) for pair in sites_shown(sort="-site__name")] == ascending[::-1]


def test_the_list_searches_by_extension_name_or_email_and_filters(admin_client, make_user, sites):
    make_user(1001, name="Ana García", email="ana@corp.test")
    make_user(1002, name="Luis", email="luis@corp.test", voicemail_enabled=False)
    make_user(4001, site="branch1", name="Elena", email="elena@home.test", enabled=False)

    def found(**q):
        html = admin_client.get(list_url(**q)).content.decode()
        return sorted(int(x) for x in re.findall(r'<td><a href="/users/\d+/">(\d+)</a>', html))

    assert found(q="1001") == [1001]
    assert found(q="garc") == [1001]
    assert found(q="home.test") == [4001]
    assert found(q="100") == [1001, 1002]
    assert found(site=sites["branch1"].pk) == [4001]
    assert found(enabled="false") == [4001]
    assert found(voicemail_enabled="false") == [1002]
    # odd input is a search that finds nothing, never a server error
    for odd in ("²", "٣", "9" * 25, "\x00", "%", "_", "x" * 3000):
        response = admin_client.get(list_url(q=odd))
        assert response.status_code in (200, 400) and "Server Error" not in response.content.decode(), odd
    assert found(q="%") == [] and found(q="_") == []


def test_an_administrator_creates_a_user_and_sees_the_password_once(admin_client, sites):
    response = admin_client.post(reverse("users:sipuser_add"), {
        "extension": "1001", "name": "Ana", "email": "ana@example.test", "site": sites["central"].pk,
        "enabled": "on", "voicemail_enabled": "on", "caller_id": "", "codecs": "", "voicemail_email": "",
        "password": "", "voicemail_pin": ""})
    user = SipUser.objects.get()
    assert response.status_code == 302 and response["Location"] == user.get_absolute_url()
    assert "password" not in response["Location"]
    page = admin_client.get(user.get_absolute_url()).content.decode()
    password = re.search(r'id="shown-password">([^<]+)<', page).group(1)
    pin = re.search(r'id="shown-pin">([^<]+)<', page).group(1)
    assert user.ha1 == hashing.ha1("1001", "voip.example.test", password) and user.voicemail_pin == pin
    assert Subscriber.objects.get(username="1001").ha1 == user.ha1
    again = admin_client.get(user.get_absolute_url()).content.decode()
    assert password not in again and "shown-password" not in again
    assert password not in str(list(ChangeLogEntry.objects.values()))


def test_the_form_reports_range_and_duplicate_errors(admin_client, make_user, sites):
    make_user(1001)
    data = {"name": "X", "email": "", "site": sites["central"].pk, "enabled": "on", "codecs": "",
            "caller_id": "", "voicemail_email": "", "password": "", "voicemail_pin": ""}
    r = admin_client.post(reverse("users:sipuser_add"), {**data, "extension": "4001"})
    assert r.status_code == 400 and "outside Central" in r.content.decode()
    r = admin_client.post(reverse("users:sipuser_add"), {**data, "extension": "1001"})
    assert r.status_code == 400 and "already exists" in r.content.decode()
    r = admin_client.post(reverse("users:sipuser_add"), {**data, "extension": "1002", "voicemail_pin": "1111"})
    assert r.status_code == 400 and "repeated digit" in r.content.decode()
    r = admin_client.post(reverse("users:sipuser_add"), {**data, "extension": "1002", "codecs": "alaw;ulaw"})
    assert r.status_code == 400 and "not a comma-separated list of codec names" in r.content.decode()
    r = admin_client.post(reverse("users:sipuser_add"), {**data, "extension": "99999999999", "name": "N\x00"})
    assert r.status_code == 400 and "Null characters are not allowed" in r.content.decode()
    assert SipUser.objects.count() == 1


def test_an_administrator_edits_and_deletes_a_user(admin_client, make_user, sites):
    user = make_user(1001)
    r = admin_client.post(reverse("users:sipuser_edit", args=[user.pk]), {
        "extension": "1001", "name": "Renamed", "email": "", "site": sites["central"].pk, "enabled": "",
        "nat": "on", "codecs": "", "caller_id": "", "voicemail_enabled": "on", "voicemail_email": ""})
    assert r.status_code == 302
    user.refresh_from_db()
    assert (user.name, user.enabled, user.nat) == ("Renamed", False, True)
    assert not Subscriber.objects.exists()
    r = admin_client.post(reverse("users:sipuser_delete", args=[user.pk]))
    assert r.status_code == 302 and not SipUser.objects.exists()


def test_a_password_reset_shows_the_new_password_once(admin_client, make_user):
    user = make_user(1001)
    r = admin_client.post(reverse("users:sipuser_reset_password", args=[user.pk]))
    assert r.status_code == 302 and r["Location"] == user.get_absolute_url()
    page = admin_client.get(user.get_absolute_url()).content.decode()
    password = re.search(r'id="shown-password">([^<]+)<', page).group(1)
    assert password != user.new_password
    assert Subscriber.objects.get().ha1 == hashing.ha1("1001", "voip.example.test", password)


def test_helpdesk_finds_a_user_and_sees_no_secret_and_no_edit_buttons(helpdesk_client, make_user):
    user = make_user(1001, name="Ana")
    assert helpdesk_client.get(list_url(q="Ana")).status_code == 200
    page = helpdesk_client.get(user.get_absolute_url()).content.decode()
    assert "Reset voicemail PIN" in page
    for hidden in ("Reset SIP password", "bi-pencil", "bi-trash", user.ha1, user.ha1b, user.voicemail_pin,
                   "Import CSV", "Add user"):
        assert hidden not in page


@pytest.mark.parametrize("name,method", [
    ("users:sipuser_add", "get"), ("users:sipuser_edit", "get"), ("users:sipuser_edit", "post"),
    ("users:sipuser_delete", "post"), ("users:sipuser_reset_password", "post"), ("users:sipuser_import", "get"),
    ("users:sipuser_import", "post"), ("users:sipuser_export", "get"), ("users:sipuser_import_secrets", "get"),
    ("users:sipuser_import_errors", "get"), ("users:sipuser_import_status", "get")])
def test_helpdesk_can_change_nothing_else(helpdesk_client, make_user, name, method):
    user = make_user(1001)
    args = [user.pk] if name.endswith(("_edit", "_delete", "_password")) else []
    response = getattr(helpdesk_client, method)(reverse(name, args=args), {"name": "x", "enabled": ""})
    assert response.status_code == 403
    fresh = SipUser.objects.get()
    assert (fresh.name, fresh.enabled, fresh.ha1) == (user.name, True, user.ha1)


def test_helpdesk_resets_a_voicemail_pin_typed_or_generated(helpdesk_client, make_user, bob):
    user = make_user(1001)
    url = reverse("users:sipuser_reset_pin", args=[user.pk])
    r = helpdesk_client.post(url, {"pin": "1234"})
    assert r.status_code == 400 and "run of digits" in r.content.decode()
    r = helpdesk_client.post(url, {"pin": "1001"})
    assert r.status_code == 400 and "extension itself" in r.content.decode()
    r = helpdesk_client.post(url, {"pin": "7391"})
    assert r.status_code == 302
    assert SipUser.objects.get().voicemail_pin == "7391"
    page = helpdesk_client.get(user.get_absolute_url()).content.decode()
    assert 'id="shown-pin">7391<' in page
    assert "7391" not in helpdesk_client.get(user.get_absolute_url()).content.decode()
    helpdesk_client.post(url, {"pin": ""})
    pin = SipUser.objects.get().voicemail_pin
    assert pin != "7391" and f'id="shown-pin">{pin}<' in helpdesk_client.get(user.get_absolute_url()).content.decode()
    entries = ChangeLogEntry.objects.filter(content_type__model="sipuser", object_id=str(user.pk), message="Voicemail PIN reset")
    assert entries.count() == 2 and {e.user for e in entries} == {bob}
    assert "7391" not in str(list(entries.values("changes")))


def test_charlie_without_a_role_sees_nothing(client, charlie, make_user):
    client.force_login(charlie)
    user = make_user(1001)
    assert client.get(list_url()).status_code == 403
    assert client.get(user.get_absolute_url()).status_code == 403
    assert client.post(reverse("users:sipuser_reset_pin", args=[user.pk]), {"pin": "7391"}).status_code == 403


def test_the_import_page_previews_then_imports_and_offers_the_secrets_once(admin_client, sites, tmp_path,
                                                                            settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.VAR_DIR = tmp_path
    url = reverse("users:sipuser_import")
    bad = SimpleUploadedFile("u.csv", b"extension,name,email,site\n1001,Ana,,central\n4001,Bad,,central\n")
    r = admin_client.post(url, {"file": bad})
    assert r.status_code == 400 and "Line 3: extension 4001 is outside" in r.content.decode()
    assert not SipUser.objects.exists()

    good = SimpleUploadedFile("u.csv", b"extension,name,email,site\n1001,Ana,,central\n4001,Elena,,branch1\n")
    r = admin_client.post(url, {"file": good})
    html = r.content.decode()
    assert r.status_code == 200 and "<strong>2</strong> to create" in html and not SipUser.objects.exists()
    token = re.search(r'name="confirm" value="([^"]+)"', html).group(1)
    assert 'data-import-total="2"' in html and 'id="import-progress"' in html  # the spinner says "2 user(s)"

    r = admin_client.post(url, {"confirm": token})
    assert "2 created" in r.content.decode() and SipUser.objects.count() == 2
    assert admin_client.post(url, {"confirm": token}).status_code == 302  # not twice

    download = admin_client.get(reverse("users:sipuser_import_secrets"))
    rows = b"".join(download.streaming_content).decode().splitlines()
    assert download.status_code == 200 and len(rows) == 3 and rows[0].startswith("extension,name,site")
    assert "no-store" in download["Cache-Control"]
    ext, _, _, domain, password, pin = rows[1].split(",")
    assert SipUser.objects.get(extension=int(ext)).ha1 == hashing.ha1(ext, domain, password)
    again = admin_client.get(reverse("users:sipuser_import_secrets"))
    assert again.status_code == 302 and again["Location"] == url
    left = sorted(p.name for p in tmp_path.joinpath("user-imports").iterdir())
    assert len(left) == 1 and left[0].endswith("-status.sealed")  # upload and secrets gone; the outcome stays


def test_the_export_download_is_the_filtered_list(admin_client, make_user, sites):
    make_user(1001)
    make_user(4001, site="branch1")
    r = admin_client.get(reverse("users:sipuser_export") + f"?site={sites['branch1'].pk}")
    body = r.content.decode().splitlines()
    assert r["Content-Type"].startswith("text/csv") and len(body) == 2 and body[1].startswith("4001,Us")


def test_the_list_and_the_detail_show_the_estate_wide_extension_state(admin_client, make_user):
    from django.utils import timezone

    from live.models import Registration
    from sites.models import KamailioNode

    user = make_user(1001)
    make_user(1002)
    kam = KamailioNode.objects.create(name="kam-1", sip_address="127.0.0.1:5060",
                                      jsonrpc_url="http://127.0.0.1:9/RPC")
    Registration.objects.create(kamailio_node=kam, user="1001", contact="sip:1001@127.0.0.1",
                                seen_at=timezone.now())
    html = admin_client.get(list_url()).content.decode()
    badges_url = re.search(r'hx-get="([^"]*extension-states/[^"]*)"', html).group(1).replace("&amp;", "&")
    assert 'id="ext-state-1001"' in html and "ext=1001&" in badges_url and "ext=1002&" in badges_url
    badges = admin_client.get(badges_url).content.decode()
    assert re.search(r'id="ext-state-1001"[^>]*><span [^>]*data-extension-state="registered"', badges)
    assert re.search(r'id="ext-state-1002"[^>]*><span [^>]*data-extension-state="unavailable"', badges)
    detail = admin_client.get(user.get_absolute_url()).content.decode()
    assert 'data-extension-state="registered"' in detail
