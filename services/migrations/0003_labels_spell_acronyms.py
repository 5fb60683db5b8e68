"""Labels spell their acronyms (set ID, ID). Labels only: no schema change."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('services', '0002_field_grammar'),
    ]

    operations = [
        migrations.AlterField(
            model_name='asteriskextension',
            name='id',
            field=models.BigAutoField(primary_key=True, serialize=False, verbose_name='ID'),
        ),
        migrations.AlterField(
            model_name='dispatcherset',
            name='setid',
            field=models.PositiveIntegerField(help_text='Kamailio set ID, 1–999 (routes use 1000 and up).', unique=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(999)], verbose_name='set ID'),
        ),
    ]
