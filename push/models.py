"""The push outbox: one row per (node, reload command) that still has to reach, or reached, the node.

Why an outbox and not a message on the broker: the row is written in the same
transaction as the change that needs the reload, so a change that commits always has
its reload recorded, and a change that rolls back never has one. Celery only carries a
"look at node N" nudge; losing that nudge (broker down, worker killed) loses nothing,
because the periodic sweep finds the row again.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse


class NodeKind(models.TextChoices):
    KAMAILIO = "kamailio", "Kamailio"
    ASTERISK = "asterisk", "Asterisk"


class PushState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class PushJob(models.Model):
    """One reload command for one node, asked for by one committed transaction (one change).

    Every request of a transaction for the same (node, command) folds into its one job
    (``requests`` counts them, ``reasons`` lists them). Jobs of different transactions
    stay separate rows -- the UI shows each change's push -- but share the wire: one
    reload sent to a node marks SENT every PENDING job of that (node, command) that was
    committed before it went out. A job committed while a reload is in flight is not
    covered by it and gets the next one.

    FAILED means the node refused for good (bad credentials, unknown method) or
    ``PUSH_MAX_ATTEMPTS`` ran out; "retry now" puts it back to PENDING. A later successful
    reload of the same command also marks older failed ones SENT (a reload reloads
    everything). ``last_error`` is kept after success: it shows what went wrong before.

    The node is two nullable foreign keys (one per node model) so the list page can
    ``select_related`` both; ``node_name`` keeps the name once a node is deleted
    (``SET_NULL``: history outlives the node, and deleting a node is never blocked).
    """

    node_kind = models.CharField(max_length=16, choices=NodeKind.choices)
    kamailio_node = models.ForeignKey("sites.KamailioNode", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="push_jobs")
    asterisk_node = models.ForeignKey("sites.AsteriskNode", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="push_jobs")
    node_name = models.CharField(max_length=100, help_text="Name of the node when the job was created.")
    command = models.CharField(max_length=64)
    reasons = models.TextField(blank=True, help_text="The changes that asked for this reload, one per line.")
    requests = models.PositiveIntegerField(default=1, help_text="How many changes were coalesced into this job.")
    state = models.CharField(max_length=16, choices=PushState.choices, default=PushState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "push job"
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="push_job_state_next_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(node_kind=NodeKind.KAMAILIO, asterisk_node__isnull=True)
                           | Q(node_kind=NodeKind.ASTERISK, kamailio_node__isnull=True)),
                name="push_job_node_matches_kind"),
        ]

    # The audit log records state changes made by operators, not the coalescing bookkeeping.
    audit_exclude_fields = ("reasons", "updated")

    def __str__(self) -> str:
        return f"#{self.pk} {self.command} on {self.node_name}"

    def get_absolute_url(self) -> str:
        return reverse("push:pushjob_detail", args=[self.pk])

    @property
    def node(self):
        return self.kamailio_node if self.node_kind == NodeKind.KAMAILIO else self.asterisk_node

    @property
    def node_id(self) -> int | None:
        return self.kamailio_node_id if self.node_kind == NodeKind.KAMAILIO else self.asterisk_node_id

    @property
    def retryable(self) -> bool:
        return self.state in (PushState.PENDING, PushState.FAILED) and self.node_id is not None


class PushNodeState(models.Model):
    """Per-node delivery bookkeeping: who is sending to the node now, and when it last reloaded.

    ``leased_until``/``lease_token`` are the per-node lock: a worker takes the lease in a
    short transaction (``select_for_update`` on this row), then talks to the node with
    no transaction open, renewing the lease before each command. A worker that dies
    leaves a lease that simply expires (it is longer than one node timeout plus the rate
    limit), so a node is never locked for good. ``last_reload_at`` is read by whichever
    worker holds the lease to space reloads (Asterisk can deadlock on rapid reloads).
    """

    node_kind = models.CharField(max_length=16, choices=NodeKind.choices)
    node_id = models.PositiveBigIntegerField()
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    last_reload_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node_kind", "node_id"], name="push_node_state_unique")]

    def __str__(self) -> str:
        return f"{self.node_kind} node {self.node_id}"
