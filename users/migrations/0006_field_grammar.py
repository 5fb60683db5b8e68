"""Field validators from voipadmin.grammar (issue 10): what may reach SIP messages, Kamailio and Asterisk.

Validators, help texts and RegexValidators ending in \\Z instead of $ only: no column changes, no SQL."""

import users.validators
import voipadmin.grammar
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0005_realtime_views_well_formed'),
    ]

    operations = [
        migrations.AlterField(
            model_name='sipuser',
            name='caller_id',
            field=models.CharField(blank=True, help_text='A name, a number or both ("Front desk" <+34911234567>); empty means "display name" <extension>.', max_length=40, validators=[voipadmin.grammar.validate_caller_id]),
        ),
        migrations.AlterField(
            model_name='sipuser',
            name='codecs',
            field=models.CharField(blank=True, help_text='Comma-separated Asterisk codec names; empty means alaw,ulaw,g722.', max_length=200, validators=[users.validators.validate_codecs]),
        ),
        migrations.AlterField(
            model_name='sipuser',
            name='email',
            field=models.EmailField(blank=True, max_length=80, validators=[voipadmin.grammar.validate_mail_address]),
        ),
        migrations.AlterField(
            model_name='sipuser',
            name='name',
            field=models.CharField(help_text='Shown on the phones called (SIP display name) and in the voicemail directory.', max_length=80, validators=[voipadmin.grammar.validate_display_name], verbose_name='display name'),
        ),
        migrations.AlterField(
            model_name='sipuser',
            name='voicemail_email',
            field=models.EmailField(blank=True, help_text="Where new messages are notified; empty means the user's email.", max_length=80, validators=[voipadmin.grammar.validate_mail_address], verbose_name='voicemail notification email'),
        ),
        migrations.AlterField(
            model_name='sipuser',
            name='voicemail_pin',
            field=models.CharField(blank=True, help_text="Stored in clear: Asterisk's realtime voicemail needs it.", max_length=80, validators=[users.validators.validate_pin_digits], verbose_name='voicemail PIN'),
        ),
    ]
