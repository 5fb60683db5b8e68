"""Create the first administrator with a generated password, printed once; ``--reset`` recovers it."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from voipadmin import accounts
from voipadmin.actors import Actor


class Command(BaseCommand):
    help = ("Create the 'admin' administrator if it does not exist and print its password once; with --reset, "
            "give an existing administrator a new password (printed once), re-enable it and clear its lock-outs.")

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--reset", action="store_true",
                            help="the password was missed or the account is locked out: issue a new one")

    def handle(self, *args, username, reset, **options):
        actor = Actor.command("ensure_admin --reset" if reset else "ensure_admin")
        exists = get_user_model().objects.filter(username=username).exists()
        if exists and not reset:
            self.stdout.write(f"Administrator '{username}' already exists (its password was printed when created; "
                              f"`manage.py ensure_admin --reset` issues a new one).")
            return
        if reset and not exists:
            raise CommandError(f"There is no account '{username}' to reset (without --reset, it is created).")
        if reset:
            _user, password = accounts.reset_administrator(actor=actor, username=username)
            what = "password reset, account enabled, lock-outs cleared"
        else:
            _user, password = accounts.create_administrator(actor=actor, username=username)
            what = "created"
        self.stdout.write(self.style.SUCCESS(
            f"\n  Administrator {what} — user: {username}  password: {password}\n  (shown only this once)\n"))
