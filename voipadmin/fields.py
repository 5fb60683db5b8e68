"""Model fields shared by the estate apps."""
from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def credentials_cipher() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_KEYS))


class EncryptedTextField(models.TextField):
    """A secret stored encrypted (Fernet) and decrypted only when code reads it.

    Node credentials must survive a database dump leaking; forms, pages, the API
    and the audit log never render the value (see ``voipadmin.audit``).
    """

    secret = True

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        try:
            return credentials_cipher().decrypt(value.encode()).decode()
        except InvalidToken:
            raise ImproperlyConfigured(
                f"{self.model.__name__}.{self.name} cannot be decrypted: VOIPADMIN_CREDENTIALS_KEY "
                "(or SECRET_KEY it derives from) changed without keeping the old key"
            ) from None

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return credentials_cipher().encrypt(value.encode()).decode()


def is_secret_field(field) -> bool:
    return bool(getattr(field, "secret", False))
