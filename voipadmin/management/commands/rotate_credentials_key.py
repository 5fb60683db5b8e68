"""``manage.py rotate_credentials_key [--check]``: every stored secret re-encrypted under the newest credentials key.

Node and trunk secrets (every ``EncryptedTextField``) are Fernet tokens under one of the keys of
``VOIPADMIN_CREDENTIALS_KEY`` (newest first; any of them decrypts, the first encrypts). Rotating:

1. put a new key first, keep the old one after it (``NEW,OLD``), restart the portal and the workers;
2. ``manage.py rotate_credentials_key``: every value re-encrypted under NEW, in one transaction (rows locked,
   so a change saved meanwhile waits for it instead of being lost), keeping each token's timestamp;
3. ``manage.py rotate_credentials_key --check``: exit status 0 once no value needs a key but the newest;
4. drop OLD from the variable and restart. The database role passwords of the Asterisk nodes follow the
   newest key too: run ``asterisk_realtime_schemas`` and each node's ``asterisk_config`` (deploy/backup.md).

A value no configured key can read stops the command before anything is written, naming the row. The
values are rewritten with plain SQL, not through the models: the secret itself does not change, so there
is nothing to validate, audit or push, and ``updated`` stamps stay as they were.
"""
from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from voipadmin.fields import EncryptedTextField, credentials_cipher


@dataclass
class Column:
    table: str
    pk: str
    column: str
    label: str  # "sites.AsteriskNode.ami_secret"


def encrypted_columns() -> list[Column]:
    """Every column holding an encrypted secret, once each (a multi-table child's own table only)."""
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        for field in meta.local_concrete_fields:
            if isinstance(field, EncryptedTextField):
                found.append(Column(meta.db_table, meta.pk.column, field.column, f"{meta.label}.{field.name}"))
    return found


class Command(BaseCommand):
    help = ("Re-encrypt every stored node and trunk secret under the newest VOIPADMIN_CREDENTIALS_KEY (one "
            "transaction); --check only reports whether any value still needs an older key.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true",
                            help="Write nothing; exit 1 if a value needs a key other than the newest.")

    def handle(self, *args, check: bool = False, **options) -> None:
        newest = Fernet(settings.CREDENTIALS_KEYS[0])
        cipher = credentials_cipher()
        stale = rotated = 0
        with transaction.atomic():
            for col in encrypted_columns():
                for pk, token in self._rows(col, lock=not check):
                    if _readable(newest, token):
                        continue
                    try:
                        fresh = cipher.rotate(token.encode()).decode()
                    except InvalidToken:
                        raise CommandError(f"{col.label} of row {col.pk}={pk} cannot be decrypted with any key of "
                                           "VOIPADMIN_CREDENTIALS_KEY: nothing was changed. Put the key it was "
                                           "written with back in the list.") from None
                    stale += 1
                    if not check:
                        self._write(col, pk, fresh)
                        rotated += 1
        keys = len(settings.CREDENTIALS_KEYS)
        if check:
            if stale:
                self.stdout.write(f"{stale} secret(s) still need an older key: run rotate_credentials_key.")
                raise SystemExit(1)
            older = f"; the {keys - 1} older key(s) can be removed" if keys > 1 else ""
            self.stdout.write(f"Every secret reads with the newest key{older}.")
            return
        self.stdout.write(f"Re-encrypted {rotated} secret(s) under the newest key. Once every process runs "
                          "with it first, the older key(s) can be removed from VOIPADMIN_CREDENTIALS_KEY; then "
                          "run asterisk_realtime_schemas and asterisk_config for the nodes' database passwords.")

    def _rows(self, col: Column, *, lock: bool):
        q = connection.ops.quote_name
        sql = (f"SELECT {q(col.pk)}, {q(col.column)} FROM {q(col.table)} "
               f"WHERE {q(col.column)} IS NOT NULL AND {q(col.column)} <> '' ORDER BY {q(col.pk)}")
        if lock and connection.features.has_select_for_update:
            sql += " FOR UPDATE"
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    def _write(self, col: Column, pk, token: str) -> None:
        q = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {q(col.table)} SET {q(col.column)} = %s WHERE {q(col.pk)} = %s", [token, pk])


def _readable(fernet: Fernet, token: str) -> bool:
    try:
        fernet.decrypt(token.encode())
    except InvalidToken:
        return False
    return True
