"""Push job pages: the outbox per node and command, with "retry now" and "retry all failed", and each node's
queue (pause, resume, cancel, push everything now)."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView, View

from sites.models import AsteriskNode, KamailioNode

from voipadmin.views import Column, ObjectDetailView, ObjectListView, PortalView

from . import actions, conf
from .delivery import held_reason, node_filter, with_queue_state
from .filtersets import PushJobFilterSet
from .models import NodeKind, PushJob, PushNodeState, PushState


def state_text(job: PushJob) -> str:
    held = held_reason(job)
    text = job.get_state_display()
    if held:
        return f"{text} ({held})"
    if job.state == PushState.PENDING and job.attempts and job.next_attempt_at > timezone.now():
        return f"{text} (retry {timezone.localtime(job.next_attempt_at):%H:%M:%S})"
    return text


def _when(value) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}" if value else ""


def _node(job: PushJob) -> str:
    return f"{job.get_node_kind_display()} {job.node_name}"


class PushJobListView(ObjectListView):
    model = PushJob
    template_name = "push/pushjob_list.html"
    filterset_class = PushJobFilterSet
    columns = [Column("Job", lambda j: f"#{j.pk}", link=True), Column("Node", _node), Column("Command", "command"),
               Column("State", state_text), Column("Changes", "requests"), Column("Attempts", "attempts"),
               Column("Last error", lambda j: j.last_error[:120]), Column("Created", lambda j: _when(j.created)),
               Column("Sent", lambda j: _when(j.sent_at))]

    def get_queryset(self):
        return with_queue_state(PushJob.objects.select_related("kamailio_node", "asterisk_node"))

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["live_reload"] = conf.live_reload()
        ctx["failed_count"] = PushJob.objects.filter(state=PushState.FAILED).count()
        return ctx


class PushJobDetailView(ObjectDetailView):
    model = PushJob
    template_name = "push/pushjob_detail.html"
    fields = [Column("Node", _node), Column("Command", "command"), Column("State", state_text),
              Column("Changes coalesced", "requests"), Column("Attempts", "attempts"),
              Column("Last error", "last_error"), Column("Created", lambda j: _when(j.created)),
              Column("Updated", lambda j: _when(j.updated)),
              Column("Next attempt", lambda j: _when(j.next_attempt_at) if j.state == PushState.PENDING else "—"),
              Column("Sent", lambda j: _when(j.sent_at))]

    def get_queryset(self):
        return PushJob.objects.select_related("kamailio_node", "asterisk_node")


class _RetryBase(PortalView, View):
    model = PushJob
    perm_action = "change"
    http_method_names = ["post"]


class PushJobRetryView(_RetryBase):
    def post(self, request, pk: int):
        job = get_object_or_404(PushJob, pk=pk)
        try:
            target = actions.retry_now(job, actor=self.actor())
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return HttpResponseRedirect(job.get_absolute_url())
        held = "" if conf.live_reload() else " It is held until live reload is turned on."
        messages.success(request, f"Push job {target} queued to be sent now.{held}")
        return HttpResponseRedirect(target.get_absolute_url())


class PushJobRetryAllFailedView(_RetryBase):
    def post(self, request):
        targets = actions.retry_all_failed(actor=self.actor())
        messages.success(request, f"{len(targets)} push job(s) queued to be sent now." if targets
                         else "No failed push jobs to retry.")
        return HttpResponseRedirect(reverse("push:pushjob_list"))


# -- a node's queue ---------------------------------------------------------------------------------------------

_NODE_MODELS = {NodeKind.KAMAILIO.value: KamailioNode, NodeKind.ASTERISK.value: AsteriskNode}


def _get_node(kind: str, pk: int):
    model = _NODE_MODELS.get(kind)
    if model is None:
        raise Http404("no such kind of node")
    return get_object_or_404(model, pk=pk)


class NodeQueueView(PortalView, TemplateView):
    """A node's push queue: its jobs, whether it is paused, and what an administrator can do about it."""

    model = PushJob
    template_name = "push/node_queue.html"
    limit = 50

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        kind, node = self.kwargs["kind"], _get_node(self.kwargs["kind"], self.kwargs["pk"])
        queue = PushNodeState.objects.filter(node_kind=kind, node_id=node.pk).first()
        jobs = list(with_queue_state(PushJob.objects.filter(**node_filter(kind, node.pk))).order_by("-id")[:self.limit])
        ctx.update(node=node, kind=kind, paused=bool(queue and queue.paused),
                   jobs=[(job, state_text(job)) for job in jobs],
                   pending=sum(1 for job in jobs if job.state == PushState.PENDING),
                   cancelled=self.request.GET.get("cancelled") == "1", stale_warning=actions.STALE_WARNING,
                   can_manage=self.request.user.has_perm("push.change_pushnodestate"), live_reload=conf.live_reload())
        return ctx


class _NodeQueueAction(PortalView, View):
    """POST only, administrators only (``push.change_pushnodestate``); every write through push/actions.py."""

    model = PushNodeState
    perm_action = "change"
    http_method_names = ["post"]

    def post(self, request, kind: str, pk: int):
        node = _get_node(kind, pk)
        back = reverse("push:node_queue", args=[kind, node.pk])
        try:
            back = self.act(request, node) or back
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        return HttpResponseRedirect(back)

    def act(self, request, node) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


class NodeQueuePauseView(_NodeQueueAction):
    def act(self, request, node):
        actions.pause_queue(node, actor=self.actor())
        messages.success(request, f"Push queue of {node} paused: nothing is sent to it until you resume it.")


class NodeQueueResumeView(_NodeQueueAction):
    def act(self, request, node):
        actions.resume_queue(node, actor=self.actor())
        held = "" if conf.live_reload() else " (held: live reload is off)"
        messages.success(request, f"Push queue of {node} resumed: its pending jobs are sent now{held}.")


class NodeQueueCancelView(_NodeQueueAction):
    def act(self, request, node):
        jobs = actions.cancel_queue(node, actor=self.actor())
        if not jobs:
            messages.info(request, f"{node} had no pending push jobs.")
            return None
        messages.warning(request, f"{len(jobs)} pending push job(s) of {node} cancelled. {actions.STALE_WARNING}")
        return reverse("push:node_queue", args=[actions.node_kind(node), node.pk]) + "?cancelled=1"


class NodeQueuePushEverythingView(_NodeQueueAction):
    def act(self, request, node):
        jobs = actions.push_everything(node, actor=self.actor())
        messages.success(request, f"Full reload of {node} queued: {', '.join(job.command for job in jobs)}.")
