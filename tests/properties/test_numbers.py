"""One parser for numbers (issue 10): ``"²".isdigit()`` is True and ``int("²")`` a ValueError, which made four
inputs a 500. Each is now a form error / a 400 (or, for a search, just text that matches no number)."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from voipadmin import numbers

from .strategies import budget, characters

SUPERSCRIPT_TWO = "²"


@budget(300)
@given(text=st.one_of(st.lists(characters, max_size=25).map("".join), st.from_regex(r"-?[0-9]{1,25}", fullmatch=True)))
@example(text=SUPERSCRIPT_TWO)
@example(text="١٢٣")
@example(text="9" * 5000)
@example(text=" 12")
@example(text="+12")
def test_a_number_is_ascii_digits_and_anything_else_a_clear_error(text):
    ascii_number = text.isascii() and text.isdigit() and len(text) <= numbers.MAX_DIGITS
    assert numbers.is_number(text) == ascii_number
    assert numbers.int_or_none(text) == (int(text) if ascii_number else None)
    try:
        assert numbers.parse_int(text) == int(text) and ascii_number
    except ValidationError as exc:  # never a ValueError
        assert not ascii_number and "digits 0-9" in exc.messages[0]
    signed = numbers.int_or_none(text, signed=True)
    assert signed is None or (signed == int(text) and text.lstrip("-").isascii())


def test_bounds_are_part_of_the_message():
    with pytest.raises(ValidationError, match="at most 31"):
        numbers.parse_int("32", what="A channel", maximum=31)
    with pytest.raises(ValidationError, match="at least 1"):
        numbers.parse_int("-3", what="A channel", signed=True, minimum=1)


# --- the four 500s of the audit ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_searching_dispatcher_sets_for_a_superscript_is_a_search_not_a_500(admin_client, write_client, estate):
    page = admin_client.get(reverse("services:dispatcherset_list"), {"q": SUPERSCRIPT_TWO})
    assert page.status_code == 200 and b"media" not in page.content.split(b"<tbody")[-1]
    api = write_client.get("/api/v1/dispatcher-sets/", {"q": SUPERSCRIPT_TWO})
    assert api.status_code == 200 and api.json()["results"] == []
    assert [s["setid"] for s in write_client.get("/api/v1/dispatcher-sets/", {"q": "10"}).json()["results"]] == [10]


@pytest.mark.postgres
@pytest.mark.django_db
def test_extension_ranges_of_a_superscript_are_a_form_error_and_a_400(admin_client, write_client, estate):
    site = estate["central"]
    response = admin_client.post(reverse("sites:site_edit", args=[site.pk]), {
        "name": site.name, "slug": site.slug, "kind": site.kind, "sip_domain": site.sip_domain,
        "time_zone": site.time_zone, "extension_ranges": SUPERSCRIPT_TWO})
    assert response.status_code == 400
    assert "is not a range like 1000-3999" in str(response.context["form"].errors["extension_ranges"])
    api = write_client.patch(f"/api/v1/sites/{site.pk}/", {"extension_ranges": f"1000-1{SUPERSCRIPT_TWO}"},
                             content_type="application/json")
    assert api.status_code == 400 and "extension_ranges" in api.json()


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("line", [f"ast-central priority={SUPERSCRIPT_TWO}", f"ast-central {SUPERSCRIPT_TWO}",
                                  "ast-central weight=" + "9" * 5000])
def test_a_dispatcher_destination_line_with_a_superscript_is_a_form_error(admin_client, estate, line):
    dset = estate["dispatcher_set"]
    response = admin_client.post(reverse("services:dispatcherset_edit", args=[dset.pk]), {
        "setid": dset.setid, "name": dset.name, "algorithm": dset.algorithm, "destination_lines": line})
    assert response.status_code == 400
    assert "Line 1" in str(response.context["form"].errors["destination_lines"])


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_dispatcher_destination_priority_of_a_superscript_is_a_400(write_client, estate):
    dset, node = estate["dispatcher_set"], estate["node"]
    response = write_client.patch(f"/api/v1/dispatcher-sets/{dset.pk}/",
                                  {"destinations": [{"node": node.pk, "priority": SUPERSCRIPT_TWO}]},
                                  content_type="application/json")
    assert response.status_code == 400 and "destinations" in response.json()


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("channels", [SUPERSCRIPT_TWO, f"1-{SUPERSCRIPT_TWO}", "١-١٥"])
def test_e1_channels_of_a_superscript_are_a_form_error_and_a_400(admin_client, write_client, estate, channels):
    e1 = estate["e1"]
    response = admin_client.post(reverse("trunks:e1trunk_edit", args=[e1.pk]), {
        "name": e1.name, "enabled": "on", "asterisk_node": e1.asterisk_node_id, "span": e1.span,
        "channels": channels, "group": e1.group, "signalling": e1.signalling, "switch_type": e1.switch_type,
        "role": e1.role, "dial_string": e1.dial_string})
    assert response.status_code == 400 and response.context["form"].errors["channels"]
    api = write_client.patch(f"/api/v1/trunks/e1/{e1.pk}/", {"channels": channels}, content_type="application/json")
    assert api.status_code == 400 and "channels" in api.json()
    e1.refresh_from_db()
    assert e1.channels == "1-15,17-31"
