"""Field validators from voipadmin.grammar (issue 10): what may reach SIP messages, Kamailio and Asterisk.

Validators, help texts and RegexValidators ending in \\Z instead of $ only: no column changes, no SQL."""

import django.core.validators
import trunks.models
import voipadmin.fields
import voipadmin.grammar
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trunks', '0002_e1_dial_string'),
    ]

    operations = [
        migrations.AlterField(
            model_name='e1trunk',
            name='channels',
            field=models.CharField(default='1-15,17-31', help_text='B channels of the span, e.g. 1-15,17-31 (16 is the D channel).', max_length=64, validators=[django.core.validators.RegexValidator('^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*\\Z', 'Enter channels like 1-15,17-31.')]),
        ),
        migrations.AlterField(
            model_name='e1trunk',
            name='dial_string',
            field=models.CharField(default='DAHDI/g{group}/{number}', help_text="What the node dials to send a call out of this line; {group}, {span} and {number} are filled in. The default is the span's DAHDI group; a line on a separate gateway could be PJSIP/{number}@gateway.", max_length=100, validators=[django.core.validators.RegexValidator('^[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.@/:+{}-]*\\{number\\}[A-Za-z0-9_.@/:+{}-]*\\Z', 'Give a channel such as DAHDI/g{group}/{number}: technology/resource with {number} in it; letters, digits and _ . @ / : + - only.')]),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='auth_password',
            field=voipadmin.fields.EncryptedTextField(blank=True, validators=[voipadmin.grammar.validate_secret]),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='auth_username',
            field=models.CharField(blank=True, help_text='Defaults to the username.', max_length=64, validators=[voipadmin.grammar.validate_quoted_text]),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='caller_id_number',
            field=models.CharField(blank=True, help_text="The trunk's main number, presented when asked to.", max_length=32, validators=[django.core.validators.RegexValidator('^\\+?[0-9]+\\Z', 'Digits only, optionally with a leading +.')]),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='host',
            field=models.CharField(max_length=255, validators=[voipadmin.grammar.validate_sip_host]),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='ip_addresses',
            field=models.TextField(blank=True, help_text='Addresses/subnets the ITSP sends from, one per line.', validators=[trunks.models.validate_ip_list]),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='proxy',
            field=models.CharField(blank=True, help_text="Outbound proxy for the REGISTER (sip:host:port); defaults to the trunk's.", max_length=255, validators=[voipadmin.grammar.validate_sip_uri]),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='realm',
            field=models.CharField(blank=True, max_length=64, validators=[voipadmin.grammar.validate_quoted_text]),
        ),
        migrations.AlterField(
            model_name='itsptrunk',
            name='username',
            field=models.CharField(blank=True, help_text='Account (registered user) at the ITSP.', max_length=64, validators=[voipadmin.grammar.validate_sip_user]),
        ),
        migrations.AlterField(
            model_name='outboundroute',
            name='description',
            field=models.CharField(blank=True, max_length=200, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='outboundroute',
            name='name',
            field=models.CharField(max_length=64, unique=True, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='outboundroute',
            name='pattern',
            field=models.CharField(help_text='Regular expression on the dialled number, e.g. ^[67][0-9]{8}$', max_length=64, validators=[voipadmin.grammar.validate_dial_pattern]),
        ),
        migrations.AlterField(
            model_name='outboundroute',
            name='prepend',
            field=models.CharField(blank=True, help_text='Prefix added after stripping, e.g. +34.', max_length=16, validators=[django.core.validators.RegexValidator('^\\+?[0-9]*\\Z', 'Digits only, optionally with a leading +.')]),
        ),
        migrations.AlterField(
            model_name='trunk',
            name='description',
            field=models.CharField(blank=True, max_length=200, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='trunk',
            name='name',
            field=models.CharField(help_text='Also the key of its Kamailio rows (address tag, uacreg l_uuid).', max_length=64, unique=True, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\\Z', 'Letters, digits, dot, dash and underscore only (it is used as a Kamailio key).')]),
        ),
    ]
