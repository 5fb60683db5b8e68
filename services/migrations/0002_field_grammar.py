"""Field validators from voipadmin.grammar (issue 10): what may reach SIP messages, Kamailio and Asterisk.

Validators, help texts and RegexValidators ending in \\Z instead of $ only: no column changes, no SQL."""

import django.core.validators
import voipadmin.grammar
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('services', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='dispatcherdestination',
            name='attrs',
            field=models.CharField(blank=True, help_text='Extra attributes after weight=N, e.g. duid=central.', max_length=64, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9_.:=;-]*\\Z', 'Use name=value pairs separated by ; (e.g. site=central).')]),
        ),
        migrations.AlterField(
            model_name='dispatcherset',
            name='description',
            field=models.CharField(blank=True, max_length=200, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='dispatcherset',
            name='name',
            field=models.CharField(max_length=64, unique=True, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='inboundnumber',
            name='description',
            field=models.CharField(blank=True, max_length=200, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='inboundnumber',
            name='number',
            field=models.CharField(help_text='As the trunk delivers it, e.g. +34911234567.', max_length=32, unique=True, validators=[django.core.validators.RegexValidator('^\\+?[0-9]{3,20}\\Z', 'Enter the number as dialled in, digits with an optional +.')]),
        ),
        migrations.AlterField(
            model_name='servicecode',
            name='code',
            field=models.CharField(max_length=16, unique=True, validators=[django.core.validators.RegexValidator('^[*#]?[0-9]{1,15}\\Z', 'A code is digits, optionally after a leading * or # (e.g. *123).')]),
        ),
        migrations.AlterField(
            model_name='servicecode',
            name='description',
            field=models.CharField(blank=True, max_length=200, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='servicecode',
            name='name',
            field=models.CharField(max_length=64, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='servicecode',
            name='parameter',
            field=models.CharField(blank=True, help_text='Conference room, IVR context, sound file or Dial() targets.', max_length=64, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9_./&@-]*\\Z', 'Letters, digits and _ . / & @ - only.')]),
        ),
    ]
