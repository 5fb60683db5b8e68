"""Fixtures of the live-estate tests: a small estate whose nodes are protocol fakes on loopback."""
from __future__ import annotations

import pytest

from sites import actions as site_actions
from voipadmin.actors import Actor

ACTOR = Actor(label="tests", source="system")


@pytest.fixture
def make_site(db):
    made = []

    def make(slug: str = "central", start: int = 1000, end: int = 1999, **fields):
        site = site_actions.create_site(actor=ACTOR, slug=slug, name=fields.pop("name", slug.title()),
                                        sip_domain="voip.example.test", ranges=[(start, end)], **fields)
        made.append(site)
        return site

    return make


@pytest.fixture
def make_asterisk(db):
    def make(site, fake=None, *, name: str | None = None, port: int | None = None, roles: str = "pbx", **fields):
        return site_actions.create_asterisk_node(
            actor=ACTOR, site=site, name=name or f"ast-{site.slug}", host="127.0.0.1",
            ami_port=port if port is not None else fake.port,
            ami_username=fake.username if fake else "admin", ami_secret=fake.secret if fake else "secret",
            roles=roles, **fields)

    return make


@pytest.fixture
def make_kamailio(db):
    def make(url: str, *, name: str = "kamailio-1", **fields):
        return site_actions.create_kamailio_node(actor=ACTOR, name=name, sip_address="127.0.0.1:5060",
                                                 jsonrpc_url=url, **fields)

    return make
