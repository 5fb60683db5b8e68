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
from django.utils.translation import gettext_lazy as _, pgettext_lazy

from voipadmin.paths import object_url


class NodeKind(models.TextChoices):
    KAMAILIO = "kamailio", "Kamailio"
    ASTERISK = "asterisk", "Asterisk"


class PushState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", pgettext_lazy("push job state", "Failed")

    CANCELLED = "cancelled", _("Cancelled")


class PushJob(models.Model):
    """One reload command owed to one node, covering every change that asked for it since the last one.

    **Coalescing.** A node has at most one *open* job per command: PENDING and not in flight
    (a partial unique constraint says so). A change that needs a reload the node already owes
    joins that job (``requests`` + 1, its reason appended, ``last_requested_at``) in the
    change's own transaction (``push.api.add_job``), so a node that is down for an hour owes one
    row per command, not one per change. A job on the wire (``in_flight``) is never joined: a
    change committed while the reload is being sent may not be covered by it, so it opens the
    next job; when a send fails, the worker folds that next job back into the one that failed.

    CANCELLED: an administrator dropped the node's pending jobs (the node may now be stale
    until the next reload of that command).

    FAILED means the node refused for good (bad credentials, unknown method) or
    ``PUSH_MAX_ATTEMPTS`` ran out; "retry now" puts it back to PENDING (or, when the node
    already owes that command in an open job, makes that job due now). A later successful
    reload of the same command also marks older failed ones SENT (a reload reloads
    everything). ``last_error`` is kept after success: it shows what went wrong before.

    The node is two nullable foreign keys (one per node model) so the list page can
    ``select_related`` both; ``node_name`` keeps the name once a node is deleted
    (``SET_NULL``: history outlives the node, and deleting a node is never blocked).
    """

    node_kind = models.CharField(_("node kind"), max_length=16, choices=NodeKind.choices)
    kamailio_node = models.ForeignKey("sites.KamailioNode", verbose_name=_("kamailio node"),
                                      null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="push_jobs")
    asterisk_node = models.ForeignKey("sites.AsteriskNode", verbose_name=_("asterisk node"),
                                      null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="push_jobs")
    node_name = models.CharField(_("node name"), max_length=100, help_text="Name of the node when the job was created.")
    command = models.CharField(_("command"), max_length=64)
    reasons = models.TextField(_("reasons"),
                               blank=True, help_text="The changes that asked for this reload, one per line.")
    requests = models.PositiveIntegerField(_("requests"),
                                           default=1, help_text="How many changes were coalesced into this job.")
    last_requested_at = models.DateTimeField(_("last requested at"), null=True, blank=True,
                                             help_text="When the latest change joined this job.")
    state = models.CharField(_("state"), max_length=16, choices=PushState.choices, default=PushState.PENDING)
    in_flight = models.BooleanField(_("in flight"),
                                    default=False, help_text="A worker is sending it now: new changes open "
                                                             "the next job instead of joining this one.")
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    scoped_by = "asterisk_node__site"  # voipadmin.scope: its sites' Asterisks' queues ...
    site_limited_actions = ("view",)  # ... seen; retried, paused or cancelled by estate administrators

    class Meta:
        ordering = ["-id"]
        verbose_name = _("push job")
        verbose_name_plural = _("push jobs")
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="push_job_state_next_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(node_kind=NodeKind.KAMAILIO, asterisk_node__isnull=True)
                           | Q(node_kind=NodeKind.ASTERISK, kamailio_node__isnull=True)),
                name="push_job_node_matches_kind"),
            # One open job per (node, command): the row new changes join (see the class docstring).
            models.UniqueConstraint(fields=["kamailio_node", "command"],
                                    condition=Q(state="pending", in_flight=False, kamailio_node__isnull=False),
                                    name="push_job_one_open_per_kamailio_command"),
            models.UniqueConstraint(fields=["asterisk_node", "command"],
                                    condition=Q(state="pending", in_flight=False, asterisk_node__isnull=False),
                                    name="push_job_one_open_per_asterisk_command"),
        ]

    # The audit log records state changes made by operators, not the coalescing bookkeeping.
    audit_exclude_fields = ("reasons", "updated", "last_requested_at", "in_flight")

    def __str__(self) -> str:
        return f"#{self.pk} {self.command} on {self.node_name}"

    def get_absolute_url(self) -> str:
        return object_url("push:pushjob_detail", self.pk)

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

    ``paused``: an administrator stopped delivery to the node (push/actions.py); its jobs keep
    collecting changes and wait, and resuming sends them at once.
    """

    node_kind = models.CharField(_("node kind"), max_length=16, choices=NodeKind.choices)
    node_id = models.PositiveBigIntegerField(_("node ID"))
    leased_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    lease_token = models.CharField(_("lease token"), max_length=32, blank=True)
    last_reload_at = models.DateTimeField(_("last reload at"), null=True, blank=True)
    paused = models.BooleanField(_("paused"), default=False, help_text="Nothing is sent to the node; its jobs wait.")

    audit_exclude_fields = ("leased_until", "lease_token", "last_reload_at")

    class Meta:
        verbose_name = _("node push queue")
        verbose_name_plural = _("node push queues")

        constraints = [models.UniqueConstraint(fields=["node_kind", "node_id"], name="push_node_state_unique")]

    def __str__(self) -> str:
        return f"{self.node_kind} node {self.node_id}"
