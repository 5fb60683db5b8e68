"""The estate check tells an ITSP password that differs from the one Kamailio holds without showing anything
that can be tested offline: a digest keyed with SECRET_KEY, not a bare SHA-256 of the password."""
from __future__ import annotations

import hashlib
import re

from services import estate
from trunks import actions as trunk_actions
from voipadmin.actors import Actor
from voipadmin.kamailio.models import UacReg

SYSTEM = Actor.command("tests")


def _shown_digests(diffs) -> dict[str, str]:
    return {d.where: re.search(r"auth_password#=(\S+)", d.row).group(1) for d in diffs if d.table == "uacreg"}


def test_a_changed_itsp_password_shows_as_a_keyed_digest(db, settings):
    trunk_actions.create_itsp_trunk(actor=SYSTEM, name="itsp-digest", host="127.0.0.1", auth_mode="registration",
                                    username="acct", auth_password="s3cret-pass")
    UacReg.objects.filter(l_uuid="itsp-digest").update(auth_password="what-kamailio-has")
    shown = _shown_digests(estate.check_projection())
    assert set(shown) == {"missing from table", "extra in table"}
    assert shown["missing from table"] != shown["extra in table"]  # the difference is still visible
    for password, digest in [("s3cret-pass", shown["missing from table"]),
                             ("what-kamailio-has", shown["extra in table"])]:
        assert re.fullmatch(r"[0-9a-f]{8}", digest)
        assert digest != hashlib.sha256(password.encode()).hexdigest()[:8]  # nothing to test candidates against
    settings.SECRET_KEY = "another-secret-key-for-this-test-" + "x" * 30
    assert _shown_digests(estate.check_projection())["missing from table"] != shown["missing from table"]
