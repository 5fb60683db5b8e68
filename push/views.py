"""Push job pages: the outbox per node and command, with "retry now" and "retry all failed", and each node's
queue (pause, resume, cancel, push everything now)."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_lazy as _

from django.views.generic import TemplateView, View

from sites.models import AsteriskNode, KamailioNode

from voipadmin import scope
from voipadmin.views import Column, ObjectDetailView, ObjectListView, PortalView

from . import actions, conf
from .delivery import held_reason, node_filter, with_queue_state
from .filtersets import PushJobFilterSet
from .models import NodeKind, PushJob, PushNodeState, PushState


#: why a pending job waits (push.delivery.held_reason, which the API gives in English), as pages word it
HELD_WORDS = {"held: live reload off": _("held: live reload off"), "node deleted": _("node deleted"),
              "held: node disabled": _("held: node disabled"), "held: queue paused": _("held: queue paused"),
              "sending": _("sending")}


def state_text(job: PushJob) -> str:
    held = held_reason(job)
    text = job.get_state_display()
    if held:
        return gettext("%(state)s (%(held)s)") % {"state": text, "held": HELD_WORDS.get(held, held)}
    if job.state == PushState.PENDING and job.attempts and job.next_attempt_at > timezone.now():
        at = formats.time_format(timezone.localtime(job.next_attempt_at), "TIME_FORMAT")
        return gettext("%(state)s (retry %(time)s)") % {"state": text, "time": at}
    return str(text)


def _when(value) -> str:
    """A moment in the portal's time zone, written the reader's way (DATETIME_FORMAT: 2026-11-30 14:05:09)."""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else ""


def _node(job: PushJob) -> str:
    return f"{job.get_node_kind_display()} {job.node_name}"


class PushJobListView(ObjectListView):
    model = PushJob
    template_name = "push/pushjob_list.html"
    filterset_class = PushJobFilterSet
    columns = [Column(_("Job"), lambda j: f"#{j.pk}", link=True), Column(_("Node"), _node),
               Column(_("Command"), "command"), Column(_("State"), state_text), Column(_("Changes"), "requests"),
               Column(_("Attempts"), "attempts"), Column(_("Last error"), lambda j: j.last_error[:120]),
               Column(_("Created"), lambda j: _when(j.created)), Column(_("Sent"), lambda j: _when(j.sent_at))]

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
    fields = [Column(_("Node"), _node), Column(_("Command"), "command"), Column(_("State"), state_text),
              Column(_("Changes coalesced"), "requests"), Column(_("Attempts"), "attempts"),
              Column(_("Last error"), "last_error"), Column(_("Created"), lambda j: _when(j.created)),
              Column(_("Updated"), lambda j: _when(j.updated)),
              Column(_("Next attempt"), lambda j: _when(j.next_attempt_at) if j.state == PushState.PENDING else "—"),
              Column(_("Sent"), lambda j: _when(j.sent_at))]

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
        if conf.live_reload():
            text = gettext("Push job %(job)s queued to be sent now.") % {"job": target}
        else:
            text = gettext("Push job %(job)s queued to be sent now. It is held until live reload is turned on.") \
                % {"job": target}
        messages.success(request, text)
        return HttpResponseRedirect(target.get_absolute_url())


class PushJobRetryAllFailedView(_RetryBase):
    def post(self, request):
        targets = actions.retry_all_failed(actor=self.actor())
        messages.success(request, gettext("%(count)s push job(s) queued to be sent now.") % {"count": len(targets)}
                         if targets else gettext("No failed push jobs to retry."))
        return HttpResponseRedirect(reverse("push:pushjob_list"))


# -- a node's queue ---------------------------------------------------------------------------------------------

_NODE_MODELS = {NodeKind.KAMAILIO.value: KamailioNode, NodeKind.ASTERISK.value: AsteriskNode}


def _get_node(kind: str, pk: int, user):
    model = _NODE_MODELS.get(kind)
    if model is None:
        raise Http404(gettext("no such kind of node"))
    return get_object_or_404(scope.restrict(model.objects.all(), user), pk=pk)


class NodeQueueView(PortalView, TemplateView):
    """A node's push queue: its jobs, whether it is paused, and what an administrator can do about it."""

    model = PushJob
    template_name = "push/node_queue.html"
    limit = 50

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        kind, node = self.kwargs["kind"], _get_node(self.kwargs["kind"], self.kwargs["pk"], self.request.user)
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
        node = _get_node(kind, pk, request.user)
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
        messages.success(request, gettext("Push queue of %(node)s paused: nothing is sent to it until you resume it.")
                         % {"node": node})


class NodeQueueResumeView(_NodeQueueAction):
    def act(self, request, node):
        actions.resume_queue(node, actor=self.actor())
        if conf.live_reload():
            text = gettext("Push queue of %(node)s resumed: its pending jobs are sent now.")
        else:
            text = gettext("Push queue of %(node)s resumed: its pending jobs are sent now (held: live reload is off).")
        messages.success(request, text % {"node": node})


class NodeQueueCancelView(_NodeQueueAction):
    def act(self, request, node):
        jobs = actions.cancel_queue(node, actor=self.actor())
        if not jobs:
            messages.info(request, gettext("%(node)s had no pending push jobs.") % {"node": node})
            return None
        messages.warning(request, gettext("%(count)s pending push job(s) of %(node)s cancelled. %(warning)s")
                         % {"count": len(jobs), "node": node, "warning": actions.STALE_WARNING})
        return reverse("push:node_queue", args=[actions.node_kind(node), node.pk]) + "?cancelled=1"


class NodeQueuePushEverythingView(_NodeQueueAction):
    def act(self, request, node):
        jobs = actions.push_everything(node, actor=self.actor())
        messages.success(request, gettext("Full reload of %(node)s queued: %(commands)s.")
                         % {"node": node, "commands": ", ".join(job.command for job in jobs)})

