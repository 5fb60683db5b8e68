"""Create the first administrator with a generated password, printed once."""
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from voipadmin.roles import ADMINISTRATOR


class Command(BaseCommand):
    help = "Create the 'admin' administrator if it does not exist and print its password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Administrator '{username}' already exists (its password was printed when created).")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(username=username, password=password, is_staff=True, is_superuser=True)
        user.groups.add(Group.objects.get(name=ADMINISTRATOR))
        self.stdout.write(self.style.SUCCESS(
            f"\n  Administrator created — user: {username}  password: {password}\n  (shown only this once)\n"))
