"""In a real browser: Alice disables two users from the list after reading the confirmation, watches the ITSP
form show the fields of the chosen authentication, and reorders a route's trunks (by drag and by ↑ ↓)."""
from __future__ import annotations

import os

import pytest
from django.core.management import call_command

from tests.browser_fixtures import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_disables_two_users_after_reading_the_confirmation(browser, live_server, alice):
    from users.models import SipUser
    from voipadmin.models import ChangeLogEntry

    call_command("load_demo_estate")
    page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/users/?sort=-name")
    first = page.locator("#object-list tbody tr td:nth-child(2)").first.inner_text()
    assert first == str(SipUser.objects.order_by("-name").first().extension)  # sorted by the header's key
    page.goto(f"{live_server.url}/users/")
    assert page.locator("#bulk-disable").is_disabled()  # nothing selected yet
    page.check("input[aria-label='Select 1001 Ana García']")
    page.check("input[aria-label='Select 1002 Luis Martín']")
    assert page.locator("#bulk-count").inner_text() == "2 selected:"
    shot(page, "users-bulk-selected.png")
    page.click("#bulk-disable")
    page.wait_for_selector("#bulk-plan")
    plan = page.locator("#bulk-plan").inner_text()
    assert "1001 Ana García" in plan and "1002 Luis Martín" in plan and plan.count("Enabled: yes → no") == 2
    assert SipUser.objects.filter(enabled=False).count() == 0  # nothing yet
    shot(page, "users-bulk-confirm.png")
    page.click("#bulk-confirm")
    page.wait_for_url(f"{live_server.url}/users/")
    assert "Disabled: 2 users." in page.locator("body").inner_text()
    assert set(SipUser.objects.filter(enabled=False).values_list("extension", flat=True)) == {1001, 1002}
    assert ChangeLogEntry.objects.filter(message="Bulk disable").count() == 2
    # select-all ticks every row of the page
    page.check("#select-all")
    assert page.locator("input.va-select:checked").count() == SipUser.objects.count()
    page.close()


def test_the_itsp_form_shows_the_fields_of_the_chosen_authentication(browser, live_server, alice):
    from trunks.models import ItspTrunk

    call_command("load_demo_estate")
    page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/trunks/itsp/add/")

    def visible(field_id: str) -> bool:
        return page.locator(f"#{field_id}").is_visible()

    assert page.input_value("#id_auth_mode") == "ip"
    assert visible("id_ip_addresses") and visible("id_address_group")
    assert not visible("id_username") and not visible("id_auth_password") and not visible("id_expires")
    page.select_option("#id_auth_mode", "registration")
    assert visible("id_username") and visible("id_auth_password") and visible("id_realm") and visible("id_expires")
    assert not visible("id_ip_addresses") and not visible("id_address_group")
    shot(page, "itsp-form-registration.png")
    page.fill("#id_name", "itsp-new")
    page.fill("#id_host", "127.0.0.40")
    page.fill("#id_username", "acct")
    page.fill("#id_auth_password", "s3cret-pass")
    page.select_option("#id_auth_mode", "ip")  # changed my mind: by IP, and the account typed is dropped
    page.fill("#id_ip_addresses", "127.0.0.40")
    page.click("button:has-text('Save')")
    page.wait_for_load_state("load")
    trunk = ItspTrunk.objects.get(name="itsp-new")
    assert trunk.auth_mode == "ip" and trunk.username == "" and trunk.auth_password == ""
    page.close()


def _order(route) -> list[str]:
    return [link.trunk.name for link in route.route_trunks.order_by("position")]


def test_an_administrator_reorders_a_routes_trunks_by_drag_and_by_buttons(browser, live_server, alice):
    from trunks.models import OutboundRoute

    call_command("load_demo_estate")
    route = OutboundRoute.objects.filter(route_trunks__isnull=False).distinct().order_by("name").first()
    before = _order(route)
    assert len(before) == 2
    page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/trunks/routes/{route.pk}/edit/")
    rows = page.locator("#id_trunks li")
    assert rows.count() == 2
    # drag the second trunk above the first
    rows.nth(1).locator(".va-handle").drag_to(rows.nth(0).locator(".va-handle"), target_position={"x": 2, "y": 1})
    names = [rows.nth(i).locator("select option:checked").inner_text().split(" (")[0] for i in range(2)]
    assert names == before[::-1]
    shot(page, "route-trunks-dragged.png")
    page.click("button:has-text('Save')")
    page.wait_for_load_state("load")
    assert _order(route) == before[::-1]
    # and back with the keyboard-friendly ↓ button; then add a third trunk from the list
    page.goto(f"{live_server.url}/trunks/routes/{route.pk}/edit/")
    page.locator("#id_trunks li").nth(0).locator("button.va-down").click()
    third = [o for o in page.locator("#id_trunks_add option").all_inner_texts()
             if o.split(" (")[0] not in before and not o.startswith("—")]
    page.select_option("#id_trunks_add", label=third[0])
    assert page.locator("#id_trunks li").count() == 3
    page.click("button:has-text('Save')")
    page.wait_for_load_state("load")
    assert _order(route) == [*before, third[0].split(" (")[0]]
    page.close()


def test_dispatcher_destinations_are_picked_from_the_nodes(browser, live_server, alice):
    from services.models import DispatcherSet

    call_command("load_demo_estate")
    dset = DispatcherSet.objects.order_by("setid").first()
    names = sorted(d.node.name for d in dset.destinations.select_related("node"))
    page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/services/dispatcher-sets/{dset.pk}/edit/")
    assert not page.locator("#id_destination_lines").is_visible()
    rows = page.locator("#id_destination_lines_rows tbody tr")
    assert rows.count() == len(names)
    removed = rows.nth(0).locator("select").input_value()
    rows.nth(0).locator("button").click()  # remove the first destination
    options = [v for v in page.locator("#id_destination_lines_add option").evaluate_all("os => os.map(o => o.value)")
               if v and v not in names]
    page.select_option("#id_destination_lines_add", options[0] if options else removed)
    added = page.locator("#id_destination_lines_rows tbody tr").last.locator("select").input_value()
    page.click("button:has-text('Save')")
    page.wait_for_load_state("load")
    expected = sorted({*names} - {removed} | {added})
    assert sorted(d.node.name for d in dset.destinations.select_related("node")) == expected
    page.close()
