"""Estate-wide extension state, merged from Kamailio registrations and every Asterisk."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from live.models import DeviceState, ExtensionState, Registration
from live.state import extension_states

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(make_site, make_asterisk, make_kamailio):
    site = make_site()
    kam = make_kamailio("http://127.0.0.1:9/RPC")
    a = make_asterisk(site, None, name="ast-a", port=9)
    b = make_asterisk(site, None, name="ast-b", port=9)
    now = timezone.now()
    for user in ("1001", "1002", "1003", "1004"):
        Registration.objects.create(kamailio_node=kam, user=user, contact=f"sip:{user}@127.0.0.1", seen_at=now,
                                    expires=now + timedelta(minutes=5))
    Registration.objects.create(kamailio_node=kam, user="1006", contact="sip:1006@127.0.0.1", seen_at=now,
                                expires=now - timedelta(minutes=1))
    # 1001 idle on A, ringing on B; 1002 in use on A; 1003 unknown to Asterisk (UNAVAILABLE there)
    DeviceState.objects.create(node=a, device="PJSIP/1001", extension="1001", state="NOT_INUSE")
    DeviceState.objects.create(node=b, device="PJSIP/1001", extension="1001", state="RINGING")
    DeviceState.objects.create(node=a, device="PJSIP/1002", extension="1002", state="INUSE")
    DeviceState.objects.create(node=a, device="PJSIP/1003", extension="1003", state="UNAVAILABLE")
    ExtensionState.objects.create(node=b, exten="1005", context="site-central", hint="PJSIP/1005", status=0,
                                  status_text="Idle")
    return site


def test_it_merges_kamailio_and_every_asterisk_into_one_state(estate, django_assert_num_queries):
    with django_assert_num_queries(4):
        states = extension_states(["1001", "1002", "1003", "1004", "1005", "1006", "1999"])
    assert states == {"1001": "ringing", "1002": "in_use", "1003": "registered", "1004": "registered",
                      "1005": "idle", "1006": "unavailable", "1999": "unavailable"}


def test_it_costs_no_query_for_no_extension():
    assert extension_states([]) == {}


def test_the_badge_template_tags_render_a_page_of_users_in_constant_queries(estate, django_assert_num_queries):
    class User:
        def __init__(self, extension):
            self.extension = extension

    users = [User(str(e)) for e in range(1000, 1100)]
    template = Template('{% load live %}{% extension_states_for users "extension" as states %}'
                        '{% for u in users %}{% include "live/extension_state_badge.html" with '
                        'state=states|state_of:u.extension %}{% endfor %}')
    with django_assert_num_queries(4):
        html = template.render(Context({"users": users}))
    assert html.count('data-extension-state="ringing"') == 1
    assert html.count('data-extension-state="unavailable"') == 100 - 5
    single = Template("{% load live %}{% extension_state_badge '1002' %}").render(Context())
    assert 'data-extension-state="in_use"' in single and "In use" in single
