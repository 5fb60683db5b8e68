"""Asterisk 20 realtime views over users_sipuser (see users/realtime.py for the shape and the why)."""
from django.db import migrations


def create_views(apps, schema_editor):
    from users import realtime

    realtime.create(schema_editor)


def drop_views(apps, schema_editor):
    from users import realtime

    realtime.drop(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("users", "0001_initial"),
        ("voipadmin", "0002_roles"),
    ]

    operations = [migrations.RunPython(create_views, drop_views)]
