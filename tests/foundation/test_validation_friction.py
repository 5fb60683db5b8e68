"""What a new administrator could type and should not have been able to: a host that is no address
(999.1.1.1), a URL without its scheme (silently completed to https), and a range whose numbers begin
another site's (20000–20999 next to 2000). Each is refused with a message that says what to type."""
import ipaddress

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from sites import actions
from sites.models import AsteriskNode, ExtensionRange, KamailioNode, Site
from sites.ranges import prefix_of
from tests.properties.strategies import budget
from voipadmin import grammar
from voipadmin.actors import Actor

ACTOR = Actor.command("test")
HOST_VALIDATORS = [grammar.validate_sip_host, grammar.validate_network_host, grammar.validate_hostport,
                   grammar.validate_domain_name]


@pytest.fixture
def estate(db):
    call_command("load_demo_estate")


def _messages(validator, value) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        validator(value)
    return exc.value.messages


# --- hosts ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("validator", HOST_VALIDATORS, ids=lambda v: v.__name__)
@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3", "256.0.0.1", "10.0.0.01", "1.2.3.4.5", "123"])
def test_a_host_of_digits_and_dots_that_is_no_ipv4_address_is_refused(validator, host):
    assert "must be an IPv4 address: four numbers from 0 to 255" in _messages(validator, host)[0]


def test_a_sip_uri_with_such_a_host_is_refused_too():
    assert "must be an IPv4 address" in _messages(grammar.validate_sip_uri, "sip:999.1.1.1:5060")[0]


@pytest.mark.parametrize("validator", HOST_VALIDATORS, ids=lambda v: v.__name__)
@pytest.mark.parametrize("host", ["192.0.2.10", "127.0.0.1", "pbx.example.test", "carrier-1.example.test"])
def test_addresses_and_host_names_pass(validator, host):
    validator(host)


@pytest.mark.parametrize("host", ["[2001:db8::1]", "[::1]"])
def test_an_ipv6_address_in_brackets_passes_where_a_sip_uri_takes_it(host):
    grammar.validate_sip_host(host)
    grammar.validate_hostport(f"{host}:5060")


@pytest.mark.parametrize("host", ["-pbx.example.test", "pbx-.example.test", "pbx..example.test", "a" * 64 + ".test",
                                  "pbx_1.example.test", "pbx.example.1"])
def test_host_name_labels_follow_rfc_1123(host):
    assert not grammar.is_sip_host(host)
    with pytest.raises(ValidationError):
        grammar.validate_domain_name(host)


def test_a_sip_domain_in_upper_case_is_refused_with_the_reason():
    assert "lower-case DNS name" in _messages(grammar.validate_domain_name, "Voip.Example.test")[0]


def test_the_site_form_refuses_999_1_1_1_as_its_sip_domain(admin_client, estate):
    site = Site.objects.get(slug="branch2")
    response = admin_client.post(f"/sites/{site.pk}/edit/", {
        "name": "Branch 2", "slug": "branch2", "kind": "delegation", "sip_domain": "999.1.1.1",
        "time_zone": "UTC", "extension_ranges": "6000-7999"})
    assert response.status_code == 400
    assert "must be an IPv4 address" in response.content.decode()
    site.refresh_from_db()
    assert site.sip_domain == "voip.example.test"


@budget(60)
@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=6).map(lambda ns: ".".join(map(str, ns))))
def test_every_host_validator_takes_a_dotted_number_exactly_when_it_is_an_ipv4_address(dotted):
    try:
        ipaddress.IPv4Address(dotted)
        is_ipv4 = True
    except ValueError:
        is_ipv4 = False
    for validator in HOST_VALIDATORS:
        try:
            validator(dotted)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == is_ipv4, (validator.__name__, dotted)


# --- URLs -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["127.0.0.1:8088/ari", "pbx.example.test:8088/ari", "pbx.example.test/ari",
                                 "ftp://pbx.example.test/ari", "http:/pbx.example.test/ari"])
def test_a_url_without_its_scheme_is_refused_not_completed(url):
    assert "Give the full URL with its scheme, e.g. http://127.0.0.1:8088/ari" in _messages(grammar.validate_http_url,
                                                                                            url)[0]


def test_the_node_form_refuses_an_ari_url_without_a_scheme_instead_of_guessing_https(admin_client, estate):
    node = AsteriskNode.objects.get(name="ast-branch1")
    response = admin_client.post(f"/nodes/asterisk/{node.pk}/edit/", {
        "name": node.name, "site": node.site_id, "enabled": "on", "host": node.host, "sip_port": "5060",
        "ami_host": node.ami_host, "ami_port": "5038", "ami_username": node.ami_username,
        "ari_url": "127.0.0.1:8088/ari", "ari_username": node.ari_username, "notes": ""})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Give the full URL with its scheme, e.g. http://127.0.0.1:8088/ari" in body
    node.refresh_from_db()
    assert node.ari_url.startswith("http://") and not node.ari_url.startswith("https://127.0.0.1:8088")


def test_the_node_form_keeps_a_url_with_its_scheme_as_typed(admin_client, estate):
    node = KamailioNode.objects.get()
    response = admin_client.post(f"/nodes/kamailio/{node.pk}/edit/", {
        "name": node.name, "enabled": "on", "sip_address": node.sip_address,
        "jsonrpc_url": "http://127.0.0.10:5071/RPC", "jsonrpc_username": node.jsonrpc_username, "notes": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    node.refresh_from_db()
    assert node.jsonrpc_url == "http://127.0.0.10:5071/RPC"


def test_the_api_refuses_an_ari_url_without_a_scheme_with_the_same_message(admin_client, estate):
    node = AsteriskNode.objects.get(name="ast-branch1")
    response = admin_client.patch(f"/api/v1/nodes/asterisk/{node.pk}/", {"ari_url": "127.0.0.1:8088/ari"},
                                  content_type="application/json")
    assert response.status_code == 400
    assert any("Give the full URL with its scheme" in m for m in response.json()["ari_url"])


# --- extension ranges -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("short, long, clash", [
    ((2000, 2000), (20000, 20999), (2000, 20000)),
    ((1000, 3999), (10000, 10005), (1000, 10000)),
    ((2099, 2999), (20000, 20999), (2099, 20990)),
    ((1, 9), (10, 99), (1, 10)),
    ((2000, 2999), (3000, 39999), (2000, 20000)),
])
def test_a_number_that_begins_a_longer_one_is_found(short, long, clash):
    assert prefix_of(short, long) == clash


@pytest.mark.parametrize("short, long", [((2100, 2999), (20000, 20999)), ((4000, 5999), (20000, 20999)),
                                         ((20000, 20999), (2000, 2999)), ((1000, 1999), (2000, 2999))])
def test_numbers_that_begin_no_longer_one_are_not_a_clash(short, long):
    assert prefix_of(short, long) is None


@budget(150)
@given(st.tuples(st.integers(0, 3000), st.integers(0, 60)), st.tuples(st.integers(0, 30000), st.integers(0, 300)))
def test_prefix_of_agrees_with_trying_every_number(a, b):
    short, long = (a[0], a[0] + a[1]), (b[0], b[0] + b[1])
    found = prefix_of(short, long)
    longs = {str(n) for n in range(long[0], long[1] + 1)}
    expected = any(other.startswith(str(n)) and other != str(n)
                   for n in range(short[0], short[1] + 1) for other in longs)
    assert (found is not None) == expected, (short, long, found)
    if found:
        n, other = found
        assert short[0] <= n <= short[1] and long[0] <= other <= long[1]
        assert str(other).startswith(str(n)) and other != n


def test_a_range_that_continues_another_sites_numbers_is_refused_naming_the_site_and_range(estate):
    with pytest.raises(ValidationError) as exc:
        actions.create_site(actor=ACTOR, name="Branch 4", slug="branch4", sip_domain="voip.example.test",
                            ranges=[(20000, 20999)])
    message = exc.value.messages[0]
    assert "20000–20999 would make routing ambiguous with 1000–3999 of site Central" in message
    assert "2000 (Central) is the beginning of 20000 (Branch 4)" in message
    assert not Site.objects.filter(slug="branch4").exists()


def test_a_range_that_begins_another_sites_numbers_is_refused_too(db):
    wide = actions.create_site(actor=ACTOR, name="Wide", slug="wide", sip_domain="voip.example.test",
                               ranges=[(20000, 20999)])
    with pytest.raises(ValidationError) as exc:
        actions.create_site(actor=ACTOR, name="Short", slug="short", sip_domain="voip.example.test",
                            ranges=[(2000, 2000)])
    assert "2000 (Short) is the beginning of 20000 (Wide)" in exc.value.messages[0]
    assert list(ExtensionRange.objects.values_list("site__slug", flat=True)) == [wide.slug]


def test_the_site_form_shows_the_prefix_clash_and_saves_nothing(admin_client, estate):
    response = admin_client.post("/sites/add/", {
        "name": "Branch 4", "slug": "branch4", "kind": "delegation", "sip_domain": "voip.example.test",
        "time_zone": "UTC", "extension_ranges": "20000-20999"})
    assert response.status_code == 400
    assert "would make routing ambiguous with 1000–3999 of site Central" in response.content.decode()
    assert not Site.objects.filter(slug="branch4").exists()


def test_numbers_of_one_length_or_of_one_site_do_not_clash(db):
    site = actions.create_site(actor=ACTOR, name="One", slug="one", sip_domain="voip.example.test",
                               ranges=[(2000, 2999), (20000, 20999)])  # its own Asterisk tells them apart
    actions.create_site(actor=ACTOR, name="Two", slug="two", sip_domain="voip.example.test", ranges=[(3000, 3999)])
    assert site.extension_ranges.count() == 2
