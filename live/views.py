"""Pages of the live estate: the dashboard (the portal's home), node live pages, calls and registrations.

Views only read (live.overview) or call live.actions; they never talk to a node themselves.
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.db.models import Q
from django.http import HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext, gettext_lazy as _
from django.views.generic import TemplateView, View

from cdrs.models import CallRecord
from media import overview as media_overview
from sites.choices import NodeRole
from sites.models import AsteriskNode, KamailioNode
from users.models import SipUser
from voipadmin import scope
from voipadmin.actors import Actor
from voipadmin.views import Column, ObjectListView

from . import actions, callcontrol, overview
from .filtersets import ActiveCallFilterSet, RegistrationFilterSet
from .models import ActiveCall, Bridge, DeviceState, NodeState, PresenceState, Registration, TrunkState
from .state import extension_states, label as state_label


class LivePermissionMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Logged-in users without the permission get 403, anonymous ones the login page."""

    def handle_no_permission(self):
        if self.request.user.is_authenticated:
            self.raise_exception = True
        return super().handle_no_permission()


class DashboardView(LivePermissionMixin, TemplateView):
    """The portal's home page: the estate at a glance, refreshed in place by HTMX."""

    template_name = "live/dashboard.html"
    permission_required = "sites.view_site"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(overview.estate_overview(user=self.request.user))
        return ctx


class EstateFragmentView(DashboardView):
    """The dashboard's refreshable part (sites, totals, topology), fetched every few seconds."""

    template_name = "live/_estate.html"


class CallHistoryView(LivePermissionMixin, View):
    """Concurrent calls per site over the last 24 hours, for the dashboard chart."""

    permission_required = "sites.view_site"

    def get(self, request):
        return JsonResponse(overview.call_history(user=request.user))


class ExtensionStateBadgesView(LivePermissionMixin, TemplateView):
    """``GET ?ext=1001&ext=1002``: one badge per extension as HTMX out-of-band swaps.

    Lets the users list show live states without the users app importing this one:
    its cells hold ``<span id="ext-state-1001"></span>`` and one request per page
    (and every few seconds) fills them in.  Four queries whatever the page size (five for a site-limited
    account, which gets the badges of its own sites' users only: the state of an extension is the presence
    Kamailio holds, which another delegation's users are not to watch through the portal).
    """

    template_name = "live/extension_state_badges.html"
    permission_required = "users.view_sipuser"
    MAX = 500

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        wanted = [e for e in self.request.GET.getlist("ext") if e.isascii() and e.isdigit() and len(e) < 19]
        wanted = wanted[: self.MAX]
        if scope.is_site_limited(self.request.user) and wanted:
            mine = {str(e) for e in scope.restrict(SipUser.objects.filter(extension__in=[int(e) for e in wanted]),
                                                    self.request.user).values_list("extension", flat=True)}
            wanted = [e for e in wanted if e in mine]
        states = extension_states(wanted)
        ctx["badges"] = [(e, states[e]) for e in dict.fromkeys(wanted)]
        return ctx


class DestinationStatesView(LivePermissionMixin, TemplateView):
    """Dispatcher destinations as the Kamailios hold them; ``?setid=N``: one set's, for the set's page
    (services pulls it with HTMX, so it need not import this app). Three queries."""

    template_name = "live/_destinations.html"
    permission_required = "services.view_dispatcherset"

    def get(self, request, *args, **kwargs):
        setid = request.GET.get("setid")
        if setid is None:
            return self.render_to_response({"destinations": overview.destination_states(), "show_set": True})
        if not (setid.isascii() and setid.isdigit()) or len(setid) > 9:
            return HttpResponseBadRequest(gettext("setid must be a dispatcher set id, a number such as ?setid=1"),
                                          content_type="text/plain")
        return self.render_to_response({"destinations": overview.destination_states(setid=int(setid)),
                                        "show_set": False})


NODE_MODELS = {"asterisk": AsteriskNode, "kamailio": KamailioNode}


class NodeLiveView(LivePermissionMixin, TemplateView):
    """What the poller last saw on one node, with the admin-only "test connection"."""

    template_name = "live/node.html"
    kind = "asterisk"

    def get_permission_required(self):
        model = NODE_MODELS[self.kind]
        return [f"sites.view_{model._meta.model_name}"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        model = NODE_MODELS[self.kind]
        node = get_object_or_404(scope.restrict(model.objects.select_related("live_state"), self.request.user),
                                 pk=self.kwargs["pk"])
        live = getattr(node, "live_state", None)
        ctx.update(node=node, kind=self.kind, live=live, stale_after=overview.stale_after(),
                   age=live.age_seconds() if live else None,
                   can_test=self.request.user.has_perm(f"sites.change_{model._meta.model_name}"),
                   fragment_url=reverse(f"live:{self.kind}_node_fragment", args=[node.pk]),
                   test_url=reverse(f"live:{self.kind}_node_test", args=[node.pk]))
        if self.kind == "asterisk":
            ctx["calls"] = ActiveCall.objects.filter(node=node).order_by("linkedid", "channel")[:200]
            ctx["registrations"] = Registration.objects.filter(asterisk_node=node)[:200]
            ctx["device_states"] = DeviceState.objects.filter(node=node)[:500]
            ctx["bridges"] = Bridge.objects.filter(node=node)[:200]
            ctx["trunks"] = TrunkState.objects.filter(asterisk_node=node)
            ctx["destinations"] = overview.destination_states(asterisk_node=node)
            ctx["active_rooms"] = media_overview.active_rooms(self.request.user, node=node)
            ctx["menu_calls"] = media_overview.menu_calls(self.request.user, node=node)
        else:
            ctx["registrations"] = Registration.objects.filter(kamailio_node=node)[:200]
            ctx["trunks"] = TrunkState.objects.filter(kamailio_node=node)
            ctx["destinations"] = overview.destination_states(kamailio_node=node)
        return ctx


class NodeFragmentView(NodeLiveView):
    template_name = "live/_node.html"


# One class per kind, so each page names its model (URL discovery in the persona tests uses it).
class AsteriskNodeLiveView(NodeLiveView):
    model, kind = AsteriskNode, "asterisk"


class KamailioNodeLiveView(NodeLiveView):
    model, kind = KamailioNode, "kamailio"


class AsteriskNodeFragmentView(NodeFragmentView):
    model, kind = AsteriskNode, "asterisk"


class KamailioNodeFragmentView(NodeFragmentView):
    model, kind = KamailioNode, "kamailio"


class NodeTestView(LivePermissionMixin, TemplateView):
    """POST: poll this node once now, with the short per-node timeout, and show what it said."""

    template_name = "live/_test_result.html"
    kind = "asterisk"
    http_method_names = ["post"]

    def get_permission_required(self):
        return [f"sites.change_{NODE_MODELS[self.kind]._meta.model_name}"]

    def post(self, request, pk: int):
        node = get_object_or_404(scope.restrict(NODE_MODELS[self.kind].objects.all(), self.request.user), pk=pk)
        result = actions.test_node_connection(node, actor=Actor.from_request(request))
        if request.headers.get("HX-Request"):
            response = self.render_to_response({"result": result, "node": node})
            response["HX-Trigger"] = "live-refresh"  # the node panel reloads with what was just recorded
            return response
        from .templatetags.live import health, reason

        said = {"node": node, "state": health(result.state), "reason": reason(result.reason)}
        text = (gettext("Test connection: %(node)s: %(state)s — %(reason)s") if result.reason
                else gettext("Test connection: %(node)s: %(state)s")) % said
        (messages.success if result.state == "up" else messages.warning)(request, text)
        return HttpResponseRedirect(reverse(f"live:{self.kind}_node", args=[pk]))


def _age(obj) -> str:
    from .templatetags.live import age

    return age(obj.seen_at)


class ActiveCallListView(ObjectListView):
    model = ActiveCall
    filterset_class = ActiveCallFilterSet
    template_name = "live/list.html"
    columns = [Column(_("Channel"), "channel"), Column(_("Site"), "site"), Column(_("Node"), "node"),
               Column(_("Caller"), lambda c: f"{c.caller} {c.caller_name}".strip()), Column(_("Callee"), "callee"),
               Column(_("State"), "state"), Column(_("Duration"), lambda c: _duration(c.duration_seconds)),
               Column(_("Trunk"), "trunk"), Column(_("Seen"), _age)]

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "verbose_name_plural": _("active calls")}

    def get_queryset(self):
        return ActiveCall.objects.select_related("site", "node").order_by("site__name", "linkedid", "channel")


class RegistrationListView(ObjectListView):
    model = Registration
    filterset_class = RegistrationFilterSet
    template_name = "live/list.html"
    columns = [Column(_("User"), "user"), Column(_("Contact"), "contact"), Column(_("User agent"), "user_agent"),
               Column(_("Source"), "source"), Column(_("NAT"), "nat"), Column(_("Expires"), "expires"),
               Column(_("Registered with"), lambda r: r.kamailio_node or r.asterisk_node), Column(_("Seen"), _age)]

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "verbose_name_plural": _("registrations")}

    def get_queryset(self):
        return Registration.objects.select_related("kamailio_node", "asterisk_node")


def _duration(seconds: int) -> str:
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# -- a user's whole picture (the users app's detail page loads it) ----------------------------------------


def user_calls(extension: str):
    """Channels of the calls ``extension`` is in, as last polled: its own channels and every channel sharing
    their ``linkedid`` (the other legs). One query."""
    own = Q(caller=extension) | Q(callee=extension)
    linked = ActiveCall.objects.filter(own).exclude(linkedid="").values("linkedid")
    return (ActiveCall.objects.filter(own | Q(linkedid__in=linked)).select_related("node", "site")
            .order_by("node__name", "linkedid", "channel"))


class UserPanelView(LivePermissionMixin, TemplateView):
    """``/live/users/<pk>/panel/``: what the estate says about one user now, for the user's page (which
    loads it with HTMX, so ``users`` need not import this app; the panel then refreshes itself).

    Registrations, calls and extension state are what the poller stored seconds ago; the voicemail counts
    are asked of the user's voicemail node now (nothing stores them), within the poll's short timeout.
    Each part shows only to those whose role may see it; a constant number of queries. Helpdesk, whose
    role is finding users and resetting PINs, does not get it (the page shows it the state badge only).
    """

    model = SipUser  # (the persona tests find a <pk> for the URL by it)
    template_name = "live/_user_panel.html"
    permission_required = ("users.view_sipuser", "live.view_activecall")
    RECENT = 10

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        subject = get_object_or_404(scope.restrict(SipUser.objects.select_related("site"), self.request.user),
                                    pk=self.kwargs["pk"])
        ext, who = str(subject.extension), self.request.user
        state = extension_states([ext])[ext]
        ctx.update(subject=subject, state=state, state_label=state_label(state),
                   lamp=PresenceState.objects.filter(extension=ext).first(),
                   can_control=who.has_perm("live.control_call"), can_listen=who.has_perm("live.listen_in"),
                   stale_after=overview.stale_after())
        if who.has_perm("live.view_registration"):
            ctx["registrations"] = list(Registration.objects.filter(user=ext)
                                        .select_related("kamailio_node", "asterisk_node")[:50])
        if who.has_perm("live.view_activecall"):
            ctx["calls"] = list(user_calls(ext)[:100])
        if who.has_perm("cdrs.view_callrecord"):
            ctx["recent_calls"] = list(CallRecord.objects.filter(Q(src=ext) | Q(dst=ext), start__isnull=False)
                                       .order_by("-start", "-id")[: self.RECENT])
            cdr_list = reverse("cdrs:cdr_list")
            ctx["cdrs_made_url"] = f"{cdr_list}?{urlencode({'src': ext})}"
            ctx["cdrs_received_url"] = f"{cdr_list}?{urlencode({'dst': ext})}"
        ctx.update(self._voicemail(subject))
        return ctx

    def _voicemail(self, subject: SipUser) -> dict:
        if not (subject.enabled and subject.voicemail_enabled):
            return {"voicemail": None}
        try:
            node = actions.serving_node(subject.extension, role=NodeRole.VOICEMAIL)
            counts = callcontrol.mailbox_counts(node, subject.mailbox, within=actions.node_timeout())
        except callcontrol.CallControlError as exc:
            return {"voicemail": {"error": exc.shown()}}
        return {"voicemail": {"node": node, **counts}}


def _digits(value: str) -> str:
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        raise forms.ValidationError(gettext("An extension: digits only, such as 1002."))
    return value


class HangupForm(forms.Form):
    node = forms.ModelChoiceField(queryset=AsteriskNode.objects.all(), widget=forms.HiddenInput)
    channel = forms.CharField(max_length=255, widget=forms.HiddenInput)

    def clean_channel(self):
        channel = self.cleaned_data["channel"]
        if not callcontrol.CHANNEL_NAME.match(channel):
            raise forms.ValidationError(gettext("Not an Asterisk channel name."))
        return channel


class ListenInForm(HangupForm):
    listener = forms.CharField(max_length=20, label=_("Listen from extension"),
                               help_text=_("The extension the node rings; when answered it hears the call, unheard."))

    def clean_listener(self):
        return _digits(self.cleaned_data["listener"])


class OriginateForm(forms.Form):
    from_extension = forms.CharField(max_length=20, label=_("From extension"),
                                     help_text=_("This extension rings first; when answered, it calls the user."))

    def clean_from_extension(self):
        return _digits(self.cleaned_data["from_extension"])


class UserCallOperationView(LivePermissionMixin, TemplateView):
    """GET: what is about to happen, and a button (POST, CSRF) to do it; POST: do it through
    ``live.actions`` (audited) and go back to the user's page. A node that is down, a call that has
    ended: the same page again with the reason (503 / 409), never a 500."""

    model = SipUser
    template_name = "live/user_call_confirm.html"
    permission_required = "live.control_call"
    form_class: type[forms.Form] = HangupForm
    operation = "hangup"
    title = _("Hang up a call")
    button = _("Hang up")

    def get_permission_required(self):
        return ["users.view_sipuser", self.permission_required]

    def subject(self) -> SipUser:
        return get_object_or_404(scope.restrict(SipUser.objects.select_related("site"), self.request.user,
                                                scope.CHANGE), pk=self.kwargs["pk"])

    #: the fields naming what is acted on (the rest, e.g. the listener's extension, are asked on the page)
    target_fields: tuple[str, ...] = ("node", "channel")

    def render_form(self, subject: SipUser, form: forms.Form, *, error: str = "", status: int = 200):
        target = self._target(form)
        call = node_state = None
        if target and "channel" in target:
            call = (ActiveCall.objects.filter(node=target["node"], channel=target["channel"])
                    .select_related("node").first())
            node_state = NodeState.objects.filter(asterisk_node=target["node"]).first()
        return self.render_to_response(self.get_context_data(
            subject=subject, form=form, error=error, target=target, call=call, node_state=node_state,
            operation=self.operation, title=self.title, button=self.button), status=status)

    def _target(self, form: forms.Form) -> dict | None:
        """What is acted on, when the form names it validly (even before the rest is filled in)."""
        if not form.is_bound:
            return getattr(form, "target", None)
        form.is_valid()
        data = {name: form.cleaned_data[name] for name in self.target_fields if name in form.cleaned_data}
        return data if len(data) == len(self.target_fields) else None

    def get(self, request, *args, **kwargs):
        subject = self.subject()
        form = self.form_class(request.GET or None)
        if form.is_bound and not form.is_valid():
            asked = [name for name in form.errors if name not in self.target_fields and name not in request.GET]
            if self._target(form) is None or len(asked) != len(form.errors):
                return self.render_form(subject, form, status=400)
            # what to act on is named; what is left to fill in is asked on the page, without errors yet
            form = self.form_class(initial=request.GET.dict())
            form.target = self._target(self.form_class(request.GET))
            return self.render_form(subject, form)
        return self.render_form(subject, form)

    def post(self, request, *args, **kwargs):
        subject = self.subject()
        form = self.form_class(request.POST)
        if not form.is_valid():
            return self.render_form(subject, form, status=400)
        try:
            done = self.perform(subject, form.cleaned_data, Actor.from_request(request))
        except callcontrol.CallControlError as exc:
            return self.render_form(subject, form, error=exc.shown(), status=503 if exc.node_down else 409)
        done = done.shown() if isinstance(done, callcontrol.Sentence) else done
        messages.success(request, done[:1].upper() + done[1:] + ".")
        return HttpResponseRedirect(subject.get_absolute_url())

    def perform(self, subject: SipUser, data: dict, actor: Actor) -> str:
        return actions.hangup_call(subject, node=data["node"], channel=data["channel"], actor=actor)


class UserHangupView(UserCallOperationView):
    pass


class UserOriginateView(UserCallOperationView):
    form_class = OriginateForm
    target_fields = ("from_extension",)
    operation = "originate"
    title = _("Call this user from another extension")
    button = _("Ring and connect")

    def perform(self, subject: SipUser, data: dict, actor: Actor) -> str:
        return actions.originate_call(subject, from_extension=data["from_extension"], actor=actor)


class UserListenInView(UserCallOperationView):
    form_class = ListenInForm
    permission_required = "live.listen_in"
    operation = "listen"
    title = _("Listen in on a call")
    button = _("Listen in")


    def perform(self, subject: SipUser, data: dict, actor: Actor) -> str:
        return actions.listen_in(subject, node=data["node"], channel=data["channel"],
                                 listener_extension=data["listener"], actor=actor)
