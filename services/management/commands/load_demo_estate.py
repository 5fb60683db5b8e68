"""Create (or bring back to shape) the demo estate of the design. Safe to run again."""
from django.core.management.base import BaseCommand
from django.db import transaction

from voipadmin.actors import Actor


class Command(BaseCommand):
    help = "Load the demo estate: central site + 3 delegations, their Asterisks, Kamailio, users, trunks, codes."

    def handle(self, *args, **options):
        import sites.demo

        actor = Actor.command("load_demo_estate")
        with transaction.atomic():
            loaded = sites.demo.load(actor)
            for module in ("users.demo", "trunks.demo", "services.demo", "media.demo"):
                try:
                    demo = __import__(module, fromlist=["load"])
                except ModuleNotFoundError as exc:
                    if exc.name != module:
                        raise
                    continue
                demo.load(actor, sites=loaded)
        self.stdout.write(self.style.SUCCESS(f"Demo estate loaded: {len(loaded)} sites."))
