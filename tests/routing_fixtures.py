"""Fixtures shared by the trunks and services tests: a small estate (two sites, three Asterisks)."""
from __future__ import annotations

import pytest


@pytest.fixture
def estate(db, actor):
    """Sites central (1000-3999) and branch1 (4000-5999), their Asterisks, one Kamailio node (nothing listening)."""
    from sites import actions as site_actions

    central = site_actions.create_site(actor=actor, name="Central", slug="central", kind="central",
                                       sip_domain="voip.example.test", ranges=[(1000, 3999)])
    branch = site_actions.create_site(actor=actor, name="Branch 1", slug="branch1", sip_domain="voip.example.test",
                                      ranges=[(4000, 5999)])
    nodes = {
        "ast-central": site_actions.create_asterisk_node(actor=actor, name="ast-central", site=central,
                                                         host="127.0.0.11", roles="pbx,voicemail,gateway"),
        "ast-media": site_actions.create_asterisk_node(actor=actor, name="ast-media", site=central,
                                                       host="127.0.0.15", roles="conference,media"),
        "ast-branch1": site_actions.create_asterisk_node(actor=actor, name="ast-branch1", site=branch,
                                                         host="127.0.0.12", roles="pbx,voicemail"),
    }
    return {"central": central, "branch1": branch, "nodes": nodes}


@pytest.fixture
def eager_push(settings):
    """Push delivery in-process right after commit, without rate limits (as the push app's tests do)."""
    from voipadmin.celery import app

    settings.LIVE_RELOAD = True
    settings.PUSH_MIN_INTERVAL_SECONDS = {"asterisk": 0.0, "kamailio": 0.0}
    settings.PUSH_NODE_TIMEOUT_SECONDS = 1.0
    settings.PUSH_RETRY_BASE_SECONDS = 0.05
    settings.PUSH_RETRY_MAX_SECONDS = 0.2
    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


@pytest.fixture
def live_kamailio(kamailio_clean, estate, actor):
    """The suite's real Kamailio registered as the estate's Kamailio node (push and check_estate reach it)."""
    from sites import actions as site_actions

    node = site_actions.create_kamailio_node(actor=actor, name="kamailio-test", sip_address=kamailio_clean.sip_address,
                                             jsonrpc_url=kamailio_clean.rpc_url)
    kamailio_clean.node = node
    return kamailio_clean
