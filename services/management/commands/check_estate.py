"""Compare the database with what every Kamailio holds in memory, and every Asterisk's static files with
what the portal generates for it; ``--repair`` re-projects and re-pushes.

``--repair`` never writes a node's files: a file that differs names the ``asterisk_config`` command that
writes it; a file that is on the node as generated but not known to be loaded gets its reload queued.

Exit status 1 when differences were found (and not repaired), 0 otherwise.
"""
from django.core.management.base import BaseCommand

from services import estate


class Command(BaseCommand):
    help = ("Report every difference between the portal's database and Kamailio's in-memory dispatcher, "
            "address, dialplan and uacreg data, and between each Asterisk's extensions.conf, pjsip.conf and "
            "voicemail.conf and what the portal generates; --repair re-projects and requests the reloads.")

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true",
                            help="Re-project, reload every Kamailio, and queue the reload of every Asterisk file "
                                 "that is on its node as generated but not loaded (files are never written).")
        parser.add_argument("--timeout", type=float, default=2.0,
                            help="Seconds per JSON-RPC call / AMI action (default 2).")

    def handle(self, *args, repair=False, timeout=2.0, **options):
        report = estate.check_estate(timeout=timeout)
        self._print(report)
        if repair:
            done = estate.repair(reason="manage.py check_estate --repair", asterisk=report.asterisk)
            self.stdout.write(self.style.WARNING(f"Repair requested: {', '.join(done.kamailio)} on every Kamailio."))
            for node, file, command in done.asterisk:
                self.stdout.write(self.style.WARNING(f"Repair requested: {command} on {node} ({file})."))
            for line in done.not_repaired:
                self.stdout.write(self.style.ERROR(f"Not repaired: {line}"))
        elif not report.ok:
            self.stdout.write("Run again with --repair to re-project and reload.")
            raise SystemExit(1)  # differences: non-zero for cron/monitoring

    def _print(self, report: estate.EstateReport) -> None:
        out = self.stdout
        if report.projection:
            out.write(self.style.ERROR(f"Projection: {len(report.projection)} difference(s) between the portal's "
                                       "objects and Kamailio's tables"))
            for diff in report.projection:
                out.write(f"  {diff}")
        else:
            out.write(self.style.SUCCESS("Projection: Kamailio's tables match the portal's objects."))
        if not report.nodes:
            out.write(self.style.WARNING("No enabled Kamailio node to compare with."))
        for node in report.nodes:
            if node.error:
                out.write(self.style.ERROR(f"{node.node}: {node.error}"))
            elif not node.differences:
                out.write(self.style.SUCCESS(f"{node.node}: in sync (dispatcher, address, dialplan, uacreg)."))
            else:
                out.write(self.style.ERROR(f"{node.node}: {len(node.differences)} difference(s)"))
                tables = sorted({d.table for d in node.differences})
                for table in tables:
                    out.write(f"  [{table}]")
                    for diff in node.differences:
                        if diff.table == table:
                            out.write(f"    {diff.where}: {diff.row}")
        for node in report.asterisk:
            if node.skipped:
                out.write(self.style.WARNING(f"{node.node}: configuration not checked ({node.skipped})."))
            elif node.ok:
                files = ", ".join(f.file for f in node.files)
                out.write(self.style.SUCCESS(f"{node.node}: configuration in step ({files})."))
                for line in node.advice():
                    out.write(self.style.WARNING(f"  note: {line}"))
            else:
                problems = node.problems()
                out.write(self.style.ERROR(f"{node.node}: {len(problems)} configuration problem(s)"))
                for line in problems:
                    out.write(f"  {line}")
        if report.ok:
            out.write(self.style.SUCCESS("Estate in sync."))
