"""Labels spell their acronyms (IP addresses, caller ID ...) and name Asterisk. Labels only: no schema change."""

import django.core.validators
import django.db.models.deletion
import trunks.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sites', '0004_labels_and_url_host_grammar'),
        ('trunks', '0003_field_grammar'),
    ]

    operations = [
        migrations.AlterField(
            model_name='e1trunk',
            name='asterisk_node',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='e1_trunks', to='sites.asterisknode', verbose_name='Asterisk node'),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='caller_id_number',
            field=models.CharField(blank=True, help_text="The trunk's main number, presented when asked to.", max_length=32, validators=[django.core.validators.RegexValidator('^\\+?[0-9]+\\Z', 'Digits only, optionally with a leading +.')], verbose_name='caller ID number'),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='caller_id_presentation',
            field=models.CharField(choices=[('allowed', "Present the caller's number"), ('trunk_number', "Present the trunk's main number"), ('restricted', 'Withhold (CLIR)')], default='allowed', max_length=16, verbose_name='caller ID presentation'),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='ip_addresses',
            field=models.TextField(blank=True, help_text='Addresses/subnets the ITSP sends from, one per line.', validators=[trunks.models.validate_ip_list], verbose_name='IP addresses'),
        ),
    ]
