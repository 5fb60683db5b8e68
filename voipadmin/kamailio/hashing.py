"""Digest HA1 values exactly as Kamailio's auth_db module computes them.

With ``modparam("auth_db", "calculate_ha1", 0)`` and ``password_column "ha1"``
Kamailio authenticates from the stored hashes, so the portal writes them and
leaves ``subscriber.password`` empty. The realm Kamailio challenges with is the
From domain (``auth_check("$fd", ...)``), so the *SIP domain* is the realm:

* ``ha1``  = md5("username:domain:password")  -- digest username "username"
* ``ha1b`` = md5("username@domain:domain:password") -- digest username "username@domain"
"""
from __future__ import annotations

import hashlib


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def ha1(username: str, domain: str, password: str) -> str:
    return _md5(f"{username}:{domain}:{password}")


def ha1b(username: str, domain: str, password: str) -> str:
    return _md5(f"{username}@{domain}:{domain}:{password}")


def credentials(username: str, domain: str, password: str) -> dict[str, str]:
    """Field values for a :class:`~voipadmin.kamailio.models.Subscriber` row (password left empty)."""
    return {
        "username": username,
        "domain": domain,
        "password": "",
        "ha1": ha1(username, domain, password),
        "ha1b": ha1b(username, domain, password),
    }
