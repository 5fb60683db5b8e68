"""Model fields shared by the estate apps."""
from __future__ import annotations

import hashlib
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.utils.translation import gettext, gettext_noop

log = logging.getLogger(__name__)

#: what pages and the API show for a stored secret the configured keys cannot open (the API and the logs say
#: it in English, as here; pages in the reader's language: ``secret_state``)
UNDECRYPTABLE = gettext_noop("cannot be decrypted — re-enter it")


@lru_cache(maxsize=4)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def credentials_cipher() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_KEYS))


class UndecryptableSecret(str):
    """A stored secret that none of the configured keys opens (``SECRET_KEY`` or ``VOIPADMIN_CREDENTIALS_KEY``
    changed without keeping the old key).

    It reads as ``""`` — nothing can use it as a secret, and ``if node.ami_secret`` says there is none to
    use — while it keeps the stored ciphertext: saving the object with the secret left as it is writes the
    ciphertext back unchanged (putting the old key back in the key list brings it back), and typing a new
    one replaces it. Pages and the API show ``UNDECRYPTABLE`` for it (``secret_state``); the poller and the
    pusher report the node as misconfigured (``undecryptable_secrets``).
    """

    ciphertext: str

    def __new__(cls, ciphertext: str) -> "UndecryptableSecret":
        value = super().__new__(cls, "")
        value.ciphertext = ciphertext
        return value

    def __repr__(self) -> str:
        return "UndecryptableSecret()"


_reported: set[tuple[str, str, str]] = set()


def _report_once(field: models.Field, ciphertext: str) -> None:
    """One warning per process per stored secret (pages load the same node on every refresh)."""
    key = (field.model._meta.label, field.name, hashlib.sha256(ciphertext.encode()).hexdigest())
    if key in _reported:
        return
    _reported.add(key)
    log.warning("%s.%s of a stored %s cannot be decrypted with the configured keys (VOIPADMIN_CREDENTIALS_KEY, or "
                "the SECRET_KEY it derives from, changed without keeping the old key): it is shown as %r until "
                "re-entered", field.model.__name__, field.name, field.model._meta.verbose_name, UNDECRYPTABLE)


class EncryptedTextField(models.TextField):
    """A secret stored encrypted (Fernet) and decrypted only when code reads it.

    Node credentials must survive a database dump leaking; forms, pages, the API
    and the audit log never render the value (see ``voipadmin.audit``). A value the
    keys cannot open loads as an ``UndecryptableSecret``, never an exception: one
    unreadable secret must not take down every page that lists its object.
    """

    secret = True

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        try:
            return credentials_cipher().decrypt(value.encode()).decode()
        except InvalidToken:
            _report_once(self, value)
            return UndecryptableSecret(value)

    def get_prep_value(self, value):
        if isinstance(value, UndecryptableSecret):
            return value.ciphertext  # left as it was: written back as it was
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return credentials_cipher().encrypt(value.encode()).decode()


def is_secret_field(field) -> bool:
    return bool(getattr(field, "secret", False))


def is_undecryptable(value) -> bool:
    return isinstance(value, UndecryptableSecret)


def secret_state(value) -> str:
    """What a page says about a stored secret: "set", "not set" or ``UNDECRYPTABLE``."""
    if is_undecryptable(value):
        return gettext(UNDECRYPTABLE)
    return gettext("set") if value else gettext("not set")


_ACRONYMS = {"ami": "AMI", "ari": "ARI", "jsonrpc": "JSON-RPC"}


def _label(field) -> str:
    words = str(field.verbose_name).split()
    return " ".join(_ACRONYMS.get(w, w) for w in words)


def undecryptable_secrets(obj: models.Model) -> list[str]:
    """What ``obj``'s secrets the configured keys cannot open are called on its page (``[]``: all readable)."""
    return [_label(f) for f in obj._meta.concrete_fields
            if is_secret_field(f) and is_undecryptable(getattr(obj, f.attname, None))]


def misconfiguration(obj: models.Model) -> str:
    """Why nothing can log in to ``obj`` with its stored secrets — a node's state, a push job's error — or ""."""
    names = undecryptable_secrets(obj)
    if not names:
        return ""
    return gettext("misconfigured: %(secrets)s %(problem)s on the %(model)s's page") % {
        "secrets": ", ".join(names), "problem": gettext(UNDECRYPTABLE), "model": obj._meta.verbose_name}
