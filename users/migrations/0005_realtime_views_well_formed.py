"""Recreate the realtime views so Asterisk never reads a malformed value (issue 10): ``ps_endpoints.callerid``
is always ``"name" <number>`` within its 40 characters (a long name is cut inside the quotes, never the
closing quote and the number), ``voicemail.fullname`` and ``email`` are cleaned of what a name or an address
may not hold (rows stored before voipadmin.grammar refused it). See users/realtime.py.

The per-site schemas ``asterisk_<slug>`` (``manage.py asterisk_realtime_schemas``) hold the same views
filtered to one site: those that exist are recreated too. Grants on every view survive (save/restore)."""
from django.db import migrations


def recreate_views(apps, schema_editor):
    from users import realtime

    realtime.create(schema_editor)
    if schema_editor.connection.vendor != "postgresql":
        return
    Site = apps.get_model("sites", "Site")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT table_schema FROM information_schema.views WHERE table_name = 'ps_endpoints'")
        schemas = {row[0] for row in cursor.fetchall()}
    for slug in Site.objects.values_list("slug", flat=True):
        if realtime.site_schema_name(slug) in schemas:
            for sql in realtime.site_schema_sql(slug):
                schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("users", "0004_realtime_views_security_definer"),
        ("sites", "0002_site_slug_at_most_30"),
    ]

    operations = [migrations.RunPython(recreate_views, migrations.RunPython.noop)]
