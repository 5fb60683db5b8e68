"""Demo users: a handful per site, voicemail on; branch1's are remote extensions behind NAT.

Demo passwords are fixed (``demo-password-<ext>``) so a soft-phone can register against the demo estate;
PINs are ``2468``. Safe to run again: existing users are brought back to shape, secrets are left alone.
"""
from __future__ import annotations

from voipadmin.actors import Actor

from . import actions
from .models import SipUser

USERS = {
    # site slug: [(extension, name, nat)]
    "central": [(1001, "Ana García", False), (1002, "Luis Martín", False), (1003, "Reception", False),
                (1004, "Marta López", False), (1005, "Jorge Sánchez", False)],
    "branch1": [(4001, "Elena Ruiz (home)", True), (4002, "Pablo Díaz (home)", True), (4003, "Sara Moreno (home)", True)],
    "branch2": [(6001, "Carmen Navarro", False), (6002, "David Romero", False)],
    "branch3": [(8001, "Lucía Torres", False), (8002, "Javier Gil", False)],
}


def demo_password(extension: int) -> str:
    return f"demo-password-{extension}"


def load(actor: Actor, sites: dict) -> list[SipUser]:
    loaded = []
    for slug, people in USERS.items():
        site = sites.get(slug)
        if site is None:
            continue
        for ext, name, nat in people:
            fields = dict(name=name, email=f"{ext}@example.test", site=site, enabled=True, nat=nat,
                          voicemail_enabled=True)
            user = SipUser.objects.select_related("site").filter(extension=ext).first()
            if user is None:
                user = actions.create_user(actor=actor, extension=ext, password=demo_password(ext),
                                           voicemail_pin="2468", **fields)
            else:
                user = actions.update_user(user, actor=actor, **fields)
            loaded.append(user)
    return loaded
