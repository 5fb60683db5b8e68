"""The demo estate brings its trunks, routes, dispatcher set and service codes (and can be loaded again)."""
from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_demo_estate_has_trunks_routes_a_set_of_the_four_asterisks_and_the_service_codes():
    from services.models import DispatcherSet, InboundNumber, ServiceCode
    from trunks.models import E1Trunk, ItspTrunk, OutboundRoute
    from voipadmin.kamailio.models import Address, DialplanRule, Dispatcher

    for _ in range(2):  # safe to run again
        call_command("load_demo_estate", stdout=open("/dev/null", "w"))
    assert sorted(E1Trunk.objects.values_list("name", "asterisk_node__name", "role")) == [
        ("e1-legacy-pbx", "ast-central", "legacy_pbx"), ("e1-pstn", "ast-central", "pstn")]
    assert list(ItspTrunk.objects.values_list("name", flat=True)) == ["itsp-carrier"]
    assert set(OutboundRoute.objects.values_list("kind", flat=True)) == {"emergency", "national", "mobile",
                                                                          "international"}
    national = OutboundRoute.objects.get(name="national")
    assert [link.trunk.name for link in national.route_trunks.all()] == ["itsp-carrier", "e1-pstn"]
    dset = DispatcherSet.objects.get(setid=1)
    assert sorted(dset.destinations.values_list("node__name", flat=True)) == [
        "ast-branch1", "ast-branch2", "ast-branch3", "ast-central"]
    codes = dict(ServiceCode.objects.values_list("code", "kind"))
    assert {codes["*123"], codes["*125"], codes["*130"]} == {"voicemail", "conference", "echo"}
    assert {"ivr", "announcement", "double_dial"} <= set(codes.values())
    assert all(code.startswith("*1") for code in codes)
    assert Dispatcher.objects.filter(setid=1).count() == 4
    assert Address.objects.filter(tag="itsp-carrier").exists()
    assert DialplanRule.objects.filter(dpid=1).count() == len(codes)
    assert InboundNumber.objects.filter(number="+34911000000").exists()
