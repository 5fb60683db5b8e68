"""``manage.py asterisk_config NODE --out DIR`` — the complete static configuration of one Asterisk node.

Writes extconfig.conf, sorcery.conf, res_pgsql.conf, cdr_pgsql.conf, extensions.conf, voicemail.conf,
pjsip.conf, manager.conf, ari.conf, http.conf, modules.conf and the few files modules need, from the
templates in deploy/asterisk/templates. Point the node's ``astetcdir`` at DIR (or copy them there) and
start Asterisk; after a change to sites, nodes or trunks, write them again and ``core reload``.
"""
from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Q

from nodeconf import asterisk, database
from sites.models import AsteriskNode

#: files holding a credential: readable by their owner (Asterisk's user) only
SECRET_FILES = {"manager.conf", "ari.conf", "res_pgsql.conf", "cdr_pgsql.conf", "cel_pgsql.conf"}


class Command(BaseCommand):
    help = "Write the static Asterisk configuration of one node (by name or id) into a directory."

    def add_arguments(self, parser):
        parser.add_argument("node", help="Asterisk node name (or id)")
        parser.add_argument("--out", required=True, help="directory to write the .conf files into")
        parser.add_argument("--db-role", choices=("estate", "site"), default="estate",
                            help="estate: role 'asterisk', every site (default); site: role asterisk_<slug>, "
                                 "the node's site only")
        parser.add_argument("--db-host", help="database host as the node reaches it (default: the portal's)")
        parser.add_argument("--db-port", type=int)
        parser.add_argument("--db-name")
        parser.add_argument("--ami-permit", action="append", metavar="CIDR",
                            help="network allowed to log in to the node's AMI (repeat; default "
                                 "VOIPADMIN_ASTERISK_MANAGER_PERMIT)")
        parser.add_argument("--prefix", metavar="DIR",
                            help="also write asterisk.conf, for a build installed under DIR (sbin/, "
                                 "lib/asterisk/modules/) such as the relocatable one the test suite runs")
        parser.add_argument("--state-dir", metavar="DIR",
                            help="with --prefix: the node's own files (var/lib, spool, run, log) under DIR "
                                 "(default: the prefix)")

    def handle(self, *args, node, out, db_role, db_host, db_port, db_name, ami_permit, prefix, state_dir, **opts):
        lookup = Q(name=node) | (Q(pk=int(node)) if node.isdecimal() else Q())
        found = AsteriskNode.objects.select_related("site").filter(lookup).first()
        if found is None:
            known = ", ".join(AsteriskNode.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"no Asterisk node {node!r} (known: {known})")
        if connection.vendor != "postgresql" and not db_name:
            raise CommandError("the portal runs on its embedded SQLite database: an Asterisk needs the shared "
                               "PostgreSQL one (set DATABASE_URL, or give --db-host/--db-name)")
        db = database.access(site=found.site if db_role == "site" else None, host=db_host, port=db_port,
                             name=db_name)
        target = Path(out).resolve()
        dirs = (asterisk.directories(etc=target, prefix=Path(prefix).resolve(),
                                     state=Path(state_dir or prefix).resolve()) if prefix else None)
        try:
            files = asterisk.render_node(found, db=db, portal_networks=ami_permit, dirs=dirs)
        except asterisk.ConfigValueError as exc:
            raise CommandError(f"node {found.name}: {exc}") from None
        target.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = target / name
            path.write_text(text, encoding="utf-8")
            os.chmod(path, 0o600 if name in SECRET_FILES else 0o644)
        self.stdout.write(f"{len(files)} files for Asterisk node {found.name} ({db.user}@{db.host}:{db.port}/"
                          f"{db.name}, schema {db.schema}) written to {target}")
