"""List pages admins expect: sortable columns, a page size, and bulk changes through a confirmation page
(all or nothing, audited per object, for those whose role allows the single-object change)."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sites.models import ExtensionRange, Site
from users.models import SipUser
from voipadmin.kamailio.models import Subscriber
from voipadmin.models import ChangeLogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(db):
    call_command("load_demo_estate")


def users_url(**q) -> str:
    return reverse("users:sipuser_list") + ("?" + urlencode(q, doseq=True) if q else "")


def extensions(response) -> list[int]:
    return [int(x) for x in re.findall(r'<td><a href="/users/\d+/">(\d+)</a>', response.content.decode())]


def ids(*exts: int) -> list[str]:
    return [str(SipUser.objects.get(extension=e).pk) for e in exts]


def bulk(client, action: str, exts, **extra):
    return client.post(reverse("users:sipuser_bulk", args=[action]), {"pk": ids(*exts), **extra})


# --- sorting --------------------------------------------------------------------------------------------------


def test_a_column_header_sorts_the_list_both_ways(admin_client, estate):
    assert extensions(admin_client.get(users_url(sort="-extension"))) == sorted(extensions(
        admin_client.get(users_url())), reverse=True)
    by_name = extensions(admin_client.get(users_url(sort="name")))
    names = [SipUser.objects.get(extension=e).name for e in by_name]
    assert names == sorted(names)
    html = admin_client.get(users_url(sort="name")).content.decode()
    assert 'aria-sort="ascending"' in html and 'href="?sort=-name"' in html  # clicked again: the other way


def test_sorting_by_a_related_field_breaks_ties_on_the_key(admin_client, estate):
    by_site = extensions(admin_client.get(users_url(sort="site__name")))
    sites = [SipUser.objects.get(extension=e).site.name for e in by_site]
    assert sites == sorted(sites)
    # users of one site come in key order, so two pages never show a row twice or skip one
    pks = [SipUser.objects.get(extension=e).pk for e in by_site]
    for name in set(sites):
        same = [pk for pk, s in zip(pks, sites) if s == name]
        assert same == sorted(same)
    page1 = extensions(admin_client.get(users_url(sort="site__name", per_page=5)))
    page2 = extensions(admin_client.get(users_url(sort="site__name", per_page=5, page=2)))
    assert page1 + page2 == by_site[:10]


@pytest.mark.parametrize("key", ["ha1", "-ha1", "site__sip_domain", "State", "?", "--name", "name;drop", "x" * 500,
                                 "site__name__foo", "\x00", "pk"])
def test_an_unknown_sort_key_is_ignored_never_a_500(admin_client, estate, key):
    response = admin_client.get(users_url(sort=key))
    assert response.status_code == 200
    assert extensions(response) == sorted(extensions(response))  # the default order


def test_a_filter_keeps_the_order_and_the_page_size(admin_client, estate):
    html = admin_client.get(users_url(sort="-name", per_page=25, q="a")).content.decode()
    form = html[html.index('role="search"'):html.index("</form>", html.index('role="search"'))]
    assert '<input type="hidden" name="sort" value="-name">' in form
    assert '<input type="hidden" name="per_page" value="25">' in form
    header = re.search(r'<a class="va-sort[^"]*" href="([^"]+)">Extension', html).group(1)
    assert "q=a" in header and "per_page=25" in header and "sort=extension" in header


def test_sorted_lists_keep_a_constant_number_of_queries(admin_client, estate, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(users_url(sort="-site__name", per_page=5)).status_code == 200
    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(users_url(sort="-site__name", per_page=250))
    assert len(extensions(response)) == SipUser.objects.count()


@pytest.mark.parametrize("url", ["trunks:trunk_list", "trunks:itsptrunk_list", "trunks:e1trunk_list",
                                 "trunks:outboundroute_list"])
def test_trunk_lists_sort_by_name_both_ways(admin_client, estate, url):
    def names(q):
        html = admin_client.get(reverse(url) + q).content.decode()
        return re.findall(r'<tr>(?:<td><input[^>]*></td>)?<td><a href="[^"]+">([^<]+)</a>', html)

    ascending, descending = names("?sort=name"), names("?sort=-name")
    assert ascending and ascending == sorted(ascending) and descending == ascending[::-1]


# --- page size ------------------------------------------------------------------------------------------------


def test_the_page_size_chooser_offers_the_usual_sizes_and_keeps_the_filters(admin_client, estate):
    html = admin_client.get(users_url(per_page=25, q="a", sort="name")).content.decode()
    chooser = html[html.index('id="page-size-form"'):]
    chooser = chooser[:chooser.index("</form>")]
    assert re.findall(r'<option value="(\d+)"', chooser) == ["25", "50", "100", "250"]
    assert '<option value="25" selected>' in chooser
    assert '<input type="hidden" name="q" value="a">' in chooser
    assert '<input type="hidden" name="sort" value="name">' in chooser
    assert 'name="page"' not in chooser


@pytest.mark.parametrize("size, shown", [("5", 5), ("0", 1), ("-3", 1), ("abc", 12), ("99999", 12), ("²", 12)])
def test_odd_page_sizes_are_bounded_never_a_500(admin_client, estate, size, shown):
    response = admin_client.get(users_url(per_page=size))
    assert response.status_code == 200 and len(extensions(response)) == shown


def test_page_links_keep_the_order_and_the_page_size(admin_client, estate):
    html = admin_client.get(users_url(per_page=5, sort="-extension")).content.decode()
    assert re.search(r'href="\?(per_page=5&amp;sort=-extension|sort=-extension&amp;per_page=5)&(amp;)?page=2"', html)


# --- bulk selection -------------------------------------------------------------------------------------------


def test_rows_are_selectable_for_administrators_only(admin_client, bob, estate):
    from django.test import Client

    html = admin_client.get(users_url()).content.decode()
    assert 'id="select-all"' in html and html.count('class="form-check-input va-select"') == SipUser.objects.count()
    for action in ("enable", "disable", "move", "delete"):
        assert f'id="bulk-{action}"' in html
    helpdesk = Client()
    helpdesk.force_login(bob)
    html = helpdesk.get(users_url()).content.decode()
    assert 'id="select-all"' not in html and "va-select" not in html and "bulk-form" not in html


def test_the_confirmation_lists_each_user_and_what_changes_and_changes_nothing(admin_client, estate):
    SipUser.objects.filter(extension=1002).update(enabled=False)
    before = ChangeLogEntry.objects.count()
    response = bulk(admin_client, "disable", [1001, 1002])
    assert response.status_code == 200
    plan = response.content.decode()
    plan = plan[plan.index('id="bulk-plan"'):plan.index("</table>", plan.index('id="bulk-plan"'))]
    assert "1001 Ana García" in plan and "Enabled: yes → no" in plan
    assert "1002 Luis Martín" in plan and "no change" in plan
    assert SipUser.objects.get(extension=1001).enabled is True
    assert ChangeLogEntry.objects.count() == before


def test_confirming_disables_every_selected_user_and_audits_each(admin_client, estate):
    response = bulk(admin_client, "disable", [1001, 1004], confirm="1", next="/users/?q=a")
    assert response.status_code == 302 and response["Location"] == "/users/?q=a"
    assert set(SipUser.objects.filter(enabled=False).values_list("extension", flat=True)) == {1001, 1004}
    assert not Subscriber.objects.filter(username__in=["1001", "1004"]).exists()
    assert Subscriber.objects.filter(username="1002").exists()
    entries = ChangeLogEntry.objects.filter(action="update", message="Bulk disable")
    assert sorted(e.object_repr for e in entries) == ["1001 Ana García", "1004 Marta López"]
    assert all(e.changes["enabled"] == [True, False] and e.user.username == "alice" for e in entries)
    # and back on: their subscriber rows return
    bulk(admin_client, "enable", [1001, 1004], confirm="1")
    assert Subscriber.objects.filter(username__in=["1001", "1004"]).count() == 2


def test_an_outside_next_url_is_not_followed(admin_client, estate):
    response = bulk(admin_client, "disable", [1001], confirm="1", next="https://evil.test/")
    assert response["Location"] == reverse("users:sipuser_list")


def test_moving_users_asks_for_the_site_then_shows_the_move(admin_client, estate):
    branch1 = Site.objects.get(slug="branch1")
    ExtensionRange.objects.create(site=branch1, start=1004, end=1005)  # (set up directly: a test's shortcut)
    first = bulk(admin_client, "move", [1004, 1005])
    assert first.status_code == 200 and 'name="site"' in first.content.decode() and 'id="bulk-plan"' not in \
        first.content.decode()
    second = bulk(admin_client, "move", [1004, 1005], params="1", site=branch1.pk)
    assert "Home site: Central → Branch 1" in second.content.decode()
    done = bulk(admin_client, "move", [1004, 1005], params="1", site=branch1.pk, confirm="1")
    assert done.status_code == 302
    assert set(SipUser.objects.filter(site=branch1).values_list("extension", flat=True)) >= {1004, 1005}
    entry = ChangeLogEntry.objects.get(object_repr="1004 Marta López", message="Bulk move to site")
    assert entry.changes["site"][1] == branch1.pk


def test_one_refused_row_refuses_the_whole_move_with_its_reason(admin_client, estate):
    branch1 = Site.objects.get(slug="branch1")
    ExtensionRange.objects.create(site=branch1, start=1004, end=1004)
    before = ChangeLogEntry.objects.count()
    response = bulk(admin_client, "move", [1004, 1005], params="1", site=branch1.pk)
    html = response.content.decode()
    assert 'id="bulk-refused"' in html and 'id="bulk-confirm"' not in html
    assert "Refused: 1005 is outside Branch 1&#x27;s extension ranges" in html
    response = bulk(admin_client, "move", [1004, 1005], params="1", site=branch1.pk, confirm="1")
    assert response.status_code == 400
    assert not SipUser.objects.filter(site=branch1, extension__in=[1004, 1005]).exists()  # not even 1004
    assert ChangeLogEntry.objects.count() == before


def test_the_action_itself_is_all_or_nothing(estate, actor):
    from django.core.exceptions import ValidationError

    from users import actions

    branch1 = Site.objects.get(slug="branch1")
    users = list(SipUser.objects.filter(extension__in=[4001, 1001]))
    with pytest.raises(ValidationError, match="1001 is outside"):
        actions.bulk_update_users(users, actor=actor, site=branch1)
    assert SipUser.objects.get(extension=1001).site.slug == "central"


def test_deleting_users_deletes_each_through_the_action(admin_client, estate):
    plan = bulk(admin_client, "delete", [1004, 1005]).content.decode()
    assert "1004 Marta López" in plan and "deleted" in plan
    assert bulk(admin_client, "delete", [1004, 1005], confirm="1").status_code == 302
    assert not SipUser.objects.filter(extension__in=[1004, 1005]).exists()
    assert not Subscriber.objects.filter(username__in=["1004", "1005"]).exists()
    assert ChangeLogEntry.objects.filter(action="delete", object_repr__in=["1004 Marta López",
                                                                           "1005 Jorge Sánchez"]).count() == 2


def test_a_user_a_ddi_rings_refuses_the_whole_delete(admin_client, estate, actor):
    from services import actions as service_actions

    service_actions.create_inbound_number(actor=actor, number="+34911000100", target="user",
                                          user=SipUser.objects.get(extension=1003))
    html = bulk(admin_client, "delete", [1003, 1004]).content.decode()
    assert "Refused: still used by inbound number +34911000100" in html and 'id="bulk-confirm"' not in html
    assert bulk(admin_client, "delete", [1003, 1004], confirm="1").status_code == 400
    assert SipUser.objects.filter(extension__in=[1003, 1004]).count() == 2


def test_the_confirmation_uses_a_constant_number_of_queries(admin_client, estate, django_assert_max_num_queries):
    def confirmation(action, pks):
        return lambda: admin_client.post(reverse("users:sipuser_bulk", args=[action]), {"pk": pks})

    few, many = ids(1001, 1002), ids(1001, 1002, 1004, 1005, 4001, 4002, 6001, 8001)
    for action in ("disable", "delete"):
        with CaptureQueriesContext(connection) as two:
            confirmation(action, few)()
        with django_assert_max_num_queries(len(two.captured_queries)):
            assert confirmation(action, many)().content.decode().count("<tr") == 1 + len(many)


def test_helpdesk_and_charlie_can_do_no_bulk_change(helpdesk_client, estate, client, charlie):
    for action in ("enable", "disable", "move", "delete"):
        assert bulk(helpdesk_client, action, [1001], confirm="1").status_code == 403
    client.force_login(charlie)
    assert bulk(client, "disable", [1001], confirm="1").status_code == 403
    assert SipUser.objects.filter(enabled=False).count() == 0


def test_nothing_selected_or_an_unknown_action_is_an_answer_not_a_500(admin_client, estate):
    response = admin_client.post(reverse("users:sipuser_bulk", args=["disable"]), {"pk": ["x", "", "²"]})
    assert response.status_code == 302
    assert admin_client.post(reverse("users:sipuser_bulk", args=["explode"]), {"pk": ids(1001)}).status_code == 404
    assert admin_client.get(reverse("users:sipuser_bulk", args=["disable"])).status_code == 302


# --- trunks ---------------------------------------------------------------------------------------------------


def trunk_bulk(client, action: str, names, **extra):
    from trunks.models import Trunk

    pks = [str(Trunk.objects.get(name=n).pk) for n in names]
    return client.post(reverse("trunks:trunk_bulk", args=[action]), {"pk": pks, **extra})


def test_trunks_are_disabled_together_audited_as_each_kind_and_projected_once(admin_client, estate):
    from trunks.models import E1Trunk, ItspTrunk, Trunk

    html = trunk_bulk(admin_client, "disable", ["e1-pstn", "itsp-carrier"]).content.decode()
    assert html.count("Enabled: yes → no") == 2
    assert trunk_bulk(admin_client, "disable", ["e1-pstn", "itsp-carrier"], confirm="1").status_code == 302
    assert not Trunk.objects.filter(name__in=["e1-pstn", "itsp-carrier"], enabled=True).exists()
    kinds = {e.object_repr: e.content_type.model for e in ChangeLogEntry.objects.filter(message="Bulk disable")}
    assert kinds == {"e1-pstn": E1Trunk._meta.model_name, "itsp-carrier": ItspTrunk._meta.model_name}


def test_a_trunk_a_route_uses_refuses_the_whole_delete(admin_client, estate):
    from trunks.models import Trunk

    html = trunk_bulk(admin_client, "delete", ["e1-legacy-pbx", "itsp-carrier"]).content.decode()
    assert "Refused: used by route(s)" in html and 'id="bulk-confirm"' not in html
    assert trunk_bulk(admin_client, "delete", ["e1-legacy-pbx", "itsp-carrier"], confirm="1").status_code == 400
    assert Trunk.objects.filter(name__in=["e1-legacy-pbx", "itsp-carrier"]).count() == 2


def test_helpdesk_cannot_change_trunks_in_bulk(helpdesk_client, estate):
    from trunks.models import Trunk

    pk = str(Trunk.objects.get(name="e1-pstn").pk)
    response = helpdesk_client.post(reverse("trunks:trunk_bulk", args=["disable"]), {"pk": [pk], "confirm": "1"})
    assert response.status_code == 403 and Trunk.objects.get(pk=pk).enabled
