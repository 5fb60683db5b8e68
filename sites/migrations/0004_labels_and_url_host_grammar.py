"""Labels spell their acronyms (SIP domain, AMI host, ARI URL, JSON-RPC URL ...); the ARI and JSON-RPC URLs
must carry their scheme (grammar.validate_http_url) and the SIP domain follows grammar.validate_domain_name
(999.1.1.1 is no IPv4 address, so no domain either). Labels and validators only: no schema change."""

import django.core.validators
import voipadmin.fields
import voipadmin.grammar
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sites', '0003_field_grammar'),
    ]

    operations = [
        migrations.AlterField(
            model_name='asterisknode',
            name='ami_host',
            field=models.CharField(blank=True, help_text="Defaults to the node's host.", max_length=255, validators=[voipadmin.grammar.validate_network_host], verbose_name='AMI host'),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ami_port',
            field=models.PositiveIntegerField(default=5038, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(65535)], verbose_name='AMI port'),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ami_secret',
            field=voipadmin.fields.EncryptedTextField(blank=True, validators=[voipadmin.grammar.validate_secret], verbose_name='AMI secret'),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ami_username',
            field=models.CharField(blank=True, max_length=64, validators=[voipadmin.grammar.validate_account_name], verbose_name='AMI username'),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ari_password',
            field=voipadmin.fields.EncryptedTextField(blank=True, validators=[voipadmin.grammar.validate_secret], verbose_name='ARI password'),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ari_url',
            field=models.URLField(blank=True, help_text='Base URL with its scheme, e.g. http://pbx.example.test:8088/ari', validators=[voipadmin.grammar.validate_http_url], verbose_name='ARI URL'),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='ari_username',
            field=models.CharField(blank=True, max_length=64, validators=[voipadmin.grammar.validate_account_name], verbose_name='ARI username'),
        ),
        migrations.AlterField(
            model_name='asterisknode',
            name='sip_port',
            field=models.PositiveIntegerField(default=5060, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(65535)], verbose_name='SIP port'),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='jsonrpc_password',
            field=voipadmin.fields.EncryptedTextField(blank=True, validators=[voipadmin.grammar.validate_secret], verbose_name='JSON-RPC password'),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='jsonrpc_url',
            field=models.URLField(help_text='With its scheme, e.g. http://127.0.0.1:5071/RPC', validators=[voipadmin.grammar.validate_http_url], verbose_name='JSON-RPC URL'),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='jsonrpc_username',
            field=models.CharField(blank=True, max_length=64, validators=[voipadmin.grammar.validate_account_name], verbose_name='JSON-RPC username'),
        ),
        migrations.AlterField(
            model_name='kamailionode',
            name='sip_address',
            field=models.CharField(help_text='host:port where phones register.', max_length=255, validators=[voipadmin.grammar.validate_hostport], verbose_name='SIP address'),
        ),
        migrations.AlterField(
            model_name='site',
            name='sip_domain',
            field=models.CharField(help_text="SIP domain of this site's users; Kamailio's realm for them.", max_length=64, validators=[voipadmin.grammar.validate_domain_name], verbose_name='SIP domain'),
        ),
    ]
