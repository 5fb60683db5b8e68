"""``manage.py export_users [FILE.csv] [--site SLUG]`` — CSV without secrets, re-importable unchanged."""
from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from users import blf, csvio
from users.models import SipUser


class Command(BaseCommand):
    help = "Export SIP users as CSV (no secrets); importing the file again changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default="-", help="Output file (default: standard output)")
        parser.add_argument("--site", help="Only this site's users (slug)")

    def handle(self, *args, file: str, site: str | None, **opts):
        qs = SipUser.objects.select_related("site").prefetch_related(blf.keys_prefetch()).order_by("extension")
        if site:
            qs = qs.filter(site__slug=site)
        if file == "-":
            n = csvio.export(qs.iterator(chunk_size=2000), sys.stdout)
        else:
            with open(file, "w", encoding="utf-8", newline="") as out:
                n = csvio.export(qs.iterator(chunk_size=2000), out)
            self.stderr.write(f"Exported {n} user(s) to {file}.")
