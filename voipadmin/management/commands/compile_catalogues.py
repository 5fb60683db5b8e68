"""Compile the translation catalogues (locale/*/LC_MESSAGES/*.po → .mo) without GNU gettext.

``make run`` and ``make test`` run it before anything starts, so a checkout serves Spanish with no extra step
and no system package; Django's own ``compilemessages`` does the same with ``msgfmt`` where it is installed.
"""
from __future__ import annotations

import os
from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Compile every .po catalogue under LOCALE_PATHS into its .mo (only those that changed)."

    def handle(self, *args, **options):
        compiled = 0
        for root in map(Path, settings.LOCALE_PATHS):
            for po_path in sorted(root.glob("*/LC_MESSAGES/*.po")):
                mo_path = po_path.with_suffix(".mo")
                if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                    continue
                try:
                    catalogue = polib.pofile(str(po_path))
                except (OSError, ValueError) as exc:
                    raise CommandError(f"{po_path}: {exc}") from None
                partial = mo_path.with_name(f".{mo_path.name}.{os.getpid()}")
                catalogue.save_as_mofile(str(partial))
                os.replace(partial, mo_path)  # (test workers may compile at once: each file appears whole)
                compiled += 1
                if options["verbosity"]:
                    self.stdout.write(f"{po_path.relative_to(settings.BASE_DIR)}: "
                                      f"{len(catalogue.translated_entries())} messages, "
                                      f"{len(catalogue.untranslated_entries())} untranslated")
        if not compiled and options["verbosity"]:
            self.stdout.write("Catalogues are up to date.")
