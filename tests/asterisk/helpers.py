"""What the end-to-end tests on the real Asterisks share: users with phones, waiting, reading a node."""
from __future__ import annotations

import time

from users import actions as user_actions
from voipadmin.actors import Actor

from tests.sip import Phone

ACTOR = Actor.command("tests")
PASSWORD = "correct-horse-battery-1001"


def make_phone(estate, extension: int, name: str, site: str, ip: str = "127.0.0.100", **fields) -> Phone:
    """A user made through the portal's actions, and the sipp phone that is it (on its own loopback address)."""
    user_actions.create_user(actor=ACTOR, extension=extension, name=name, site=estate.sites[site],
                             password=PASSWORD, **fields)
    return Phone(str(extension), PASSWORD, ip=ip)


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05):
    """Poll ``predicate`` until it is truthy or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def channels(node) -> list[list[str]]:
    """``core show channels concise``: channel!context!exten!prio!state!app!data!cid!..."""
    return [line.split("!") for line in node.cli("core show channels concise").splitlines() if "!" in line]
