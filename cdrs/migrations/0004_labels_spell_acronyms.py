"""Labels spell their acronyms (ID, caller ID name/number, ANI, RDNIS, DNID). Labels only: no schema change."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cdrs', '0003_call_record'),
    ]

    operations = [
        migrations.AlterField(
            model_name='cdr',
            name='id',
            field=models.BigAutoField(primary_key=True, serialize=False, verbose_name='ID'),
        ),
        migrations.AlterField(
            model_name='cel',
            name='cid_ani',
            field=models.TextField(blank=True, null=True, verbose_name='caller ID ANI'),
        ),
        migrations.AlterField(
            model_name='cel',
            name='cid_dnid',
            field=models.TextField(blank=True, null=True, verbose_name='caller ID DNID'),
        ),
        migrations.AlterField(
            model_name='cel',
            name='cid_name',
            field=models.TextField(blank=True, null=True, verbose_name='caller ID name'),
        ),
        migrations.AlterField(
            model_name='cel',
            name='cid_num',
            field=models.TextField(blank=True, null=True, verbose_name='caller ID number'),
        ),
        migrations.AlterField(
            model_name='cel',
            name='cid_rdnis',
            field=models.TextField(blank=True, null=True, verbose_name='caller ID RDNIS'),
        ),
        migrations.AlterField(
            model_name='cel',
            name='id',
            field=models.BigAutoField(primary_key=True, serialize=False, verbose_name='ID'),
        ),
    ]
