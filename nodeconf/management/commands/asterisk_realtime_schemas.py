"""``manage.py asterisk_realtime_schemas`` — the database roles and schemas Asterisk nodes read through.

Creates (or refreshes) the estate-wide role ``asterisk`` on the public realtime views and, per site,
schema + role ``asterisk_<slug>`` that see that site only (see nodeconf/database.py). Safe to run again,
e.g. after adding a site. Needs a database role allowed to create roles (CREATEROLE) — run it with such
a DATABASE_URL if the portal's own role is not.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from nodeconf import database


class Command(BaseCommand):
    help = "Create or refresh the database roles and per-site schemas Asterisk nodes use (PostgreSQL only)."

    def handle(self, *args, **opts):
        if connection.vendor != "postgresql":
            raise CommandError("Asterisk's realtime roles and schemas need PostgreSQL.")
        try:
            for what, statements in database.setup_sql():
                database.apply(statements)
                self.stdout.write(what)
        except DatabaseError as exc:
            raise CommandError(f"{exc}".strip() + " (this command needs a role with CREATEROLE)") from None
