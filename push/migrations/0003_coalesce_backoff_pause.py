"""Coalesce push jobs per (node, command), let an administrator pause or cancel a node's queue.

Before the one-open-job constraints can exist, the PENDING jobs a database already holds (one
per change) are folded into the oldest of each (node, command): its ``requests`` becomes their
sum and their reasons are appended (newest kept, as ``push.api`` does); the others are deleted.
Nothing is lost: one reload of the command covers them all.
"""

from django.db import migrations, models

MAX_REASONS_CHARS = 4000


def fold_pending_jobs(apps, schema_editor):
    PushJob = apps.get_model("push", "PushJob")
    groups: dict[tuple, list] = {}
    for job in PushJob.objects.filter(state="pending").order_by("id"):
        key = (job.node_kind, job.kamailio_node_id, job.asterisk_node_id, job.command)
        groups.setdefault(key, []).append(job)
    for key, jobs in groups.items():
        if key[1] is None and key[2] is None or len(jobs) < 2:
            continue  # (orphans are failed by the next sweep; a single job is already coalesced)
        keep, rest = jobs[0], jobs[1:]
        lines = keep.reasons.splitlines()
        for job in rest:
            lines += [line for line in job.reasons.splitlines() if line not in lines]
        text = "\n".join(lines)
        if len(text) > MAX_REASONS_CHARS:
            text = "…\n" + text[-MAX_REASONS_CHARS:].split("\n", 1)[-1]
        keep.reasons = text
        keep.requests = sum(job.requests for job in jobs)
        keep.attempts = max(job.attempts for job in jobs)
        keep.next_attempt_at = min(job.next_attempt_at for job in jobs)
        keep.save(update_fields=["reasons", "requests", "attempts", "next_attempt_at"])
        PushJob.objects.filter(pk__in=[job.pk for job in rest]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('push', '0002_one_job_per_transaction'),
        ('sites', '0003_field_grammar'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='pushnodestate',
            options={'verbose_name': 'node push queue'},
        ),
        migrations.AddField(
            model_name='pushjob',
            name='in_flight',
            field=models.BooleanField(default=False, help_text='A worker is sending it now: new changes open the next job instead of joining this one.'),
        ),
        migrations.AddField(
            model_name='pushjob',
            name='last_requested_at',
            field=models.DateTimeField(blank=True, help_text='When the latest change joined this job.', null=True),
        ),
        migrations.AddField(
            model_name='pushnodestate',
            name='paused',
            field=models.BooleanField(default=False, help_text='Nothing is sent to the node; its jobs wait.'),
        ),
        migrations.AlterField(
            model_name='pushjob',
            name='state',
            field=models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='pending', max_length=16),
        ),
        migrations.RunPython(fold_pending_jobs, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name='pushjob',
            constraint=models.UniqueConstraint(condition=models.Q(('in_flight', False), ('kamailio_node__isnull', False), ('state', 'pending')), fields=('kamailio_node', 'command'), name='push_job_one_open_per_kamailio_command'),
        ),
        migrations.AddConstraint(
            model_name='pushjob',
            constraint=models.UniqueConstraint(condition=models.Q(('asterisk_node__isnull', False), ('in_flight', False), ('state', 'pending')), fields=('asterisk_node', 'command'), name='push_job_one_open_per_asterisk_command'),
        ),
    ]
