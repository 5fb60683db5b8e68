"""Labels spell their acronyms (caller ID, HA1, URI, call ID). Labels only: no schema change."""

import voipadmin.grammar
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0006_field_grammar'),
    ]

    operations = [
        migrations.AlterField(
            model_name='asteriskcontact',
            name='call_id',
            field=models.CharField(blank=True, max_length=255, null=True, verbose_name='call ID'),
        ),
        migrations.AlterField(
            model_name='asteriskcontact',
            name='id',
            field=models.CharField(max_length=255, primary_key=True, serialize=False, verbose_name='ID'),
        ),
        migrations.AlterField(
            model_name='asteriskcontact',
            name='uri',
            field=models.CharField(blank=True, max_length=511, null=True, verbose_name='URI'),
        ),
        migrations.AlterField(
            model_name='sipuser',
            name='caller_id',
            field=models.CharField(blank=True, help_text='A name, a number or both ("Front desk" <+34911234567>); empty means "display name" <extension>.', max_length=40, validators=[voipadmin.grammar.validate_caller_id], verbose_name='caller ID'),
        ),
        migrations.AlterField(
            model_name='sipuser',
            name='ha1',
            field=models.CharField(editable=False, max_length=32, verbose_name='HA1'),
        ),
        migrations.AlterField(
            model_name='sipuser',
            name='ha1b',
            field=models.CharField(editable=False, max_length=32, verbose_name='HA1b'),
        ),
    ]
