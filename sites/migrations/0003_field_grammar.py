"""Field validators from voipadmin.grammar (issue 10): what may reach SIP messages, Kamailio and Asterisk.

Validators, help texts and RegexValidators ending in \\Z instead of $ only: no column changes, no SQL."""

import django.core.validators
import voipadmin.fields
import voipadmin.grammar
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sites', '0002_site_slug_at_most_30'),
    ]

    operations = [
        migrations.AlterField(
            model_name='asterisknode',
            name='ami_host',
            field=models.CharField(blank=True, help_text="Defaults to the node's host.", max_length=255, validators=[voipadmin.grammar.validate_network_host]),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ami_secret',
            field=voipadmin.fields.EncryptedTextField(blank=True, validators=[voipadmin.grammar.validate_secret]),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ami_username',
            field=models.CharField(blank=True, max_length=64, validators=[voipadmin.grammar.validate_account_name]),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ari_password',
            field=voipadmin.fields.EncryptedTextField(blank=True, validators=[voipadmin.grammar.validate_secret]),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ari_url',
            field=models.URLField(blank=True, help_text='Base URL, e.g. http://pbx.example.test:8088/ari', validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ari_username',
            field=models.CharField(blank=True, max_length=64, validators=[voipadmin.grammar.validate_account_name]),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='host',
            field=models.CharField(help_text='SIP address Kamailio sends to.', max_length=255, validators=[voipadmin.grammar.validate_sip_host]),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='name',
            field=models.CharField(max_length=100, unique=True, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='notes',
            field=models.TextField(blank=True, validators=[voipadmin.grammar.validate_multi_line]),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='jsonrpc_password',
            field=voipadmin.fields.EncryptedTextField(blank=True, validators=[voipadmin.grammar.validate_secret]),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='jsonrpc_url',
            field=models.URLField(help_text='e.g. http://127.0.0.1:5071/RPC', validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='jsonrpc_username',
            field=models.CharField(blank=True, max_length=64, validators=[voipadmin.grammar.validate_account_name]),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='name',
            field=models.CharField(max_length=100, unique=True, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='notes',
            field=models.TextField(blank=True, validators=[voipadmin.grammar.validate_multi_line]),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='sip_address',
            field=models.CharField(help_text='host:port where phones register.', max_length=255, validators=[voipadmin.grammar.validate_hostport]),
        ),
        migrations.AlterField(
            model_name='site',
            name='address',
            field=models.CharField(blank=True, help_text='Postal address of the office.', max_length=200, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='site',
            name='name',
            field=models.CharField(max_length=100, unique=True, validators=[voipadmin.grammar.validate_single_line]),
        ),
        migrations.AlterField(
            model_name='site',
            name='notes',
            field=models.TextField(blank=True, validators=[voipadmin.grammar.validate_multi_line]),
        ),
        migrations.AlterField(
            model_name='site',
            name='sip_domain',
            field=models.CharField(help_text="SIP domain of this site's users; Kamailio's realm for them.", max_length=64, validators=[django.core.validators.RegexValidator('^(?=.{1,253}\\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\\Z', 'Enter a lower-case DNS name such as voip.example.test.')]),
        ),
    ]
