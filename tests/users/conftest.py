from __future__ import annotations

import pytest

from sites import actions as site_actions
from voipadmin.actors import Actor

DOMAIN = "voip.example.test"


@pytest.fixture
def sites(db):
    command = Actor.command("tests")
    central = site_actions.create_site(actor=command, name="Central", slug="central", kind="central",
                                       sip_domain=DOMAIN, time_zone="Europe/Madrid", ranges=[(1000, 3999)])
    branch1 = site_actions.create_site(actor=command, name="Branch 1", slug="branch1", sip_domain=DOMAIN,
                                       time_zone="Europe/Madrid", ranges=[(4000, 5999)])
    branch2 = site_actions.create_site(actor=command, name="Branch 2", slug="branch2",
                                       sip_domain="branch2.example.test", ranges=[(6000, 7999)])
    return {"central": central, "branch1": branch1, "branch2": branch2}


@pytest.fixture
def make_user(sites, actor):
    from users import actions

    def make(extension: int = 1001, site: str = "central", **fields):
        fields.setdefault("name", f"User {extension}")
        fields.setdefault("email", f"{extension}@example.test")
        return actions.create_user(actor=actor, extension=extension, site=sites[site], **fields)

    return make


@pytest.fixture
def pushed(monkeypatch):
    """Every push.api.request the code makes, as (target, command, site_ids)."""
    calls: list[tuple[str, str, tuple]] = []

    def fake(target, command, *, node_ids=None, site_ids=None, reason=""):
        calls.append((target, command, tuple(site_ids or ())))

    monkeypatch.setattr("push.api.request", fake)
    return calls
