"""Push job pages: the outbox per node and command, with "retry now" and "retry all failed"."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.generic import View

from voipadmin.views import Column, ObjectDetailView, ObjectListView, PortalView

from . import actions, conf
from .delivery import held_reason
from .filtersets import PushJobFilterSet
from .models import PushJob, PushState


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
        return PushJob.objects.select_related("kamailio_node", "asterisk_node")

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
