"""Make an API token for a billing or integration system; the key is printed once."""
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sites.models import Site
from voipadmin.actors import Actor
from voipadmin.api.tokens import create_token
from voipadmin.models import ApiToken


class Command(BaseCommand):
    help = "Create a named API token (read = billing, write = integration) and print its key once."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.READ)
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after this many days.")
        parser.add_argument("--networks", default="",
                            help="Comma-separated CIDR networks the token may be used from (default: anywhere).")
        parser.add_argument("--sites", default="",
                            help="Comma-separated site slugs the token is limited to (default: the whole estate).")

    def handle(self, *args, name, scope, expires_days, networks, sites, **options):
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        slugs = {s.strip() for s in sites.split(",") if s.strip()}
        limited = list(Site.objects.filter(slug__in=slugs))
        if missing := slugs - {s.slug for s in limited}:
            raise CommandError(f"Unknown site(s): {', '.join(sorted(missing))}.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            token, key = create_token(actor=Actor.command("create_api_token"), name=name, scope=scope,
                                      expires_at=expires_at, allowed_networks=networks, sites=limited)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
                               if hasattr(exc, "error_dict") else "; ".join(exc.messages)) from None
        self.stderr.write(f"Token '{token.name}' ({token.get_scope_display()}) created; "
                          "the key below is shown only this once:")
        self.stdout.write(key)
