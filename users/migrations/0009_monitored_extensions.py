"""Users' BLF keys (issue 15): an ordered list of monitored extensions per user.

Reviewed: one new table, no data changed. Both foreign keys cascade (a user's keys go with it; a key watching a
deleted user goes too — ``users.actions.delete_user`` logs that on the watcher first). The constraints hold
what ``users.blf.problems`` checks: positions 1..64 unique per user, one key per monitored user, never oneself.
"""

import django.core.validators
import django.db.models.deletion
import voipadmin.grammar
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0008_labels_translatable'),
    ]

    operations = [
        migrations.CreateModel(
            name='MonitoredExtension',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(64)], verbose_name='position')),
                ('label', models.CharField(blank=True, help_text="Shown next to the key; empty means the monitored user's display name.", max_length=40, validators=[voipadmin.grammar.validate_display_name], verbose_name='label')),
                ('monitored', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='watched_by', to='users.sipuser', verbose_name='monitored user')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='monitored_extensions', to='users.sipuser', verbose_name='user')),
            ],
            options={
                'verbose_name': 'monitored extension',
                'verbose_name_plural': 'monitored extensions',
                'ordering': ['user', 'position'],
                'default_permissions': (),
                'constraints': [models.UniqueConstraint(fields=('user', 'position'), name='users_monitored_position_uq'), models.UniqueConstraint(fields=('user', 'monitored'), name='users_monitored_once_uq'), models.CheckConstraint(condition=models.Q(('user', models.F('monitored')), _negated=True), name='users_monitored_not_self'), models.CheckConstraint(condition=models.Q(('position__gte', 1), ('position__lte', 64)), name='users_monitored_position_range')],
            },
        ),
    ]
