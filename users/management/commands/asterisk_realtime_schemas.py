"""``manage.py asterisk_realtime_schemas`` — one schema of realtime views per site (PostgreSQL).

Each site's Asterisk should see only its own users: give it a DB role with
``ALTER ROLE asterisk_<slug> SET search_path = asterisk_<slug>`` and it reads ``ps_endpoints`` etc. from
the schema this command (re)creates, filtered to that site. Safe to run again (e.g. after adding a site).
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from sites.models import Site
from users import realtime


class Command(BaseCommand):
    help = "Create or refresh the per-site Asterisk realtime schemas asterisk_<slug> (PostgreSQL only)."

    def handle(self, *args, **opts):
        if connection.vendor != "postgresql":
            raise CommandError("Per-site realtime schemas need PostgreSQL.")
        with transaction.atomic(), connection.cursor() as cur:
            for site in Site.objects.order_by("slug"):
                for sql in realtime.site_schema_sql(site.slug):
                    cur.execute(sql)
                self.stdout.write(f"{realtime.site_schema_name(site.slug)}: views of site {site.slug}")
