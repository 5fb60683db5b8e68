"""Recreate the realtime views: the voicemail write-back now runs SECURITY DEFINER, so a node's database
role needs UPDATE on its ``voicemail`` view only (never on users_sipuser); grants on the views survive."""
from django.db import migrations


def recreate_views(apps, schema_editor):
    from users import realtime

    realtime.create(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("users", "0003_asterisk_contacts"),
    ]

    operations = [migrations.RunPython(recreate_views, migrations.RunPython.noop)]
