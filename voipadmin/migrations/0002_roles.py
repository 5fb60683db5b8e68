"""Create the portal's roles (Administrator, Helpdesk, Billing) as groups.

Their permissions are (re)assigned after every migrate by voipadmin.roles,
since apps migrated later add permissions this migration cannot see.
"""
from django.db import migrations

ROLES = ("Administrator", "Helpdesk", "Billing")


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("voipadmin", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
