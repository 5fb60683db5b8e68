"""The development simulator is labelled as such and refuses to run outside DEBUG."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_the_simulator_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development simulator"):
        call_command("simulate_estate", "--seconds", "0.1")


def test_the_simulator_needs_a_demo_estate(settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="load_demo_estate"):
        call_command("simulate_estate", "--seconds", "0.1")


def test_the_simulator_only_binds_loopback(settings, make_site, make_asterisk):
    settings.DEBUG = True
    make_asterisk(make_site(), None, port=5038, ami_host="pbx.example.invalid")
    with pytest.raises(CommandError, match="pbx.example.invalid is not a loopback address"):
        call_command("simulate_estate", "--seconds", "0.1")
