"""Two permissions for call control from a user's page (issue 13): hanging up and click-to-call
(``live.control_call``) and listening in (``live.listen_in``). Options only, no schema change: Django creates
the permissions after migrate, and ``voipadmin.roles`` gives them to Administrator (every ``live``
permission) and to nobody else — Helpdesk keeps its two."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("live", "0003_dispatcher_destination_states"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="activecall",
            options={
                "ordering": ["node", "linkedid", "channel"],
                "permissions": [
                    ("control_call", "Can hang up calls and ring a user from another extension (click-to-call)"),
                    ("listen_in", "Can listen in on calls (ChanSpy, without being heard)"),
                ],
            },
        ),
    ]
