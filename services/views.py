from django import forms
from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy as _
from django.views.generic import TemplateView

from trunks.views import TabsMixin as _TrunkTabsMixin
from voipadmin import scope
from voipadmin.views import Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectListView, PortalView

from . import actions, estate, trace
from .choices import RouteTo
from .filtersets import DispatcherSetFilterSet, InboundNumberFilterSet, ServiceCodeFilterSet
from .forms import DispatcherSetForm, InboundNumberForm, ServiceCodeForm
from .models import DispatcherDestination, DispatcherSet, InboundNumber, ServiceCode
from .projection import code_attrs, code_steps, fallback_setid, fallback_sets

TABS = [(_("Service codes"), "services:servicecode_list", "services.view_servicecode"),
        (_("Dispatcher sets"), "services:dispatcherset_list", "services.view_dispatcherset"),
        (_("Inbound numbers"), "services:inboundnumber_list", "services.view_inboundnumber"),
        (_("Estate check"), "services:estate_check", "services.change_servicecode"),
        (_("Trace a call"), "services:trace", "services.view_servicecode")]


class TabsMixin(_TrunkTabsMixin):
    template_name = "services/tabbed_list.html"
    tabs = TABS
    index_name = "services:index"


#: how apps above services show what a code reaches (media: its room, menu or AGI application), each taking the
#: code and giving an HTML link or "" (services cannot import them; they register in their AppConfig.ready)
code_reaches: list = []


def _reaches(code: ServiceCode) -> str:
    return next((shown for describe in code_reaches if (shown := describe(code))), "")


def _target(code: ServiceCode) -> str:
    if code.route_to == "set":
        return gettext("set %(set)s") % {"set": code.dispatcher_set} if code.dispatcher_set_id else "—"
    if code.route_to == "node":
        return gettext("node %(node)s") % {"node": code.node} if code.node_id else "—"
    return gettext("caller's home site")


class ServiceCodeListView(TabsMixin, ObjectListView):
    model = ServiceCode
    filterset_class = ServiceCodeFilterSet
    columns = [Column(_("Code"), "code", link=True, order_by=True), Column(_("Name"), "name", order_by=True),
               Column(_("Kind"), "kind", order_by=True), Column(_("Served by"), _target),
               Column(_("Announcement"), "announcement", order_by=True),
               Column(_("Enabled"), "enabled", order_by=True)]

    def get_queryset(self):
        return ServiceCode.objects.select_related("dispatcher_set", "node")


class ServiceCodeDetailView(ObjectDetailView):
    model = ServiceCode
    template_name = "services/servicecode_detail.html"
    fields = [Column(_("Code"), "code"), Column(_("Name"), "name"), Column(_("Kind"), "kind"),
              Column(_("Reaches"), _reaches), Column(_("Enabled"), "enabled"), Column(_("Served by"), _target),
              Column(_("Announcement"), "announcement"), Column(_("Parameter"), "parameter"),
              Column(_("Kamailio dialplan (dpid 1) attrs"), code_attrs), Column(_("Description"), "description")]

    def get_queryset(self):
        return ServiceCode.objects.select_related("dispatcher_set", "node")

    def get_context_data(self, **kwargs):
        from sites.models import Site

        ctx = super().get_context_data(**kwargs)
        site = Site.objects.order_by("kind", "name").first()
        ctx["example_site"] = site
        ctx["asterisk_steps"] = code_steps(self.object, site) if site else []
        return ctx


class ServiceCodeEditView(ObjectEditView):
    model = ServiceCode
    form_class = ServiceCodeForm
    create_action = staticmethod(actions.create_service_code)
    update_action = staticmethod(actions.update_service_code)


class ServiceCodeDeleteView(ObjectDeleteView):
    model = ServiceCode
    delete_action = staticmethod(actions.delete_service_code)


def _destinations(dset: DispatcherSet) -> str:
    return ", ".join(f"{d.node.name} (p{d.priority} w{d.weight})" for d in dset.destinations.all())


_DESTS = Prefetch("destinations", queryset=DispatcherDestination.objects.select_related("node")
                  .order_by("-priority", "node__name"))


class DispatcherSetListView(TabsMixin, ObjectListView):
    model = DispatcherSet
    filterset_class = DispatcherSetFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True), Column(_("Set ID"), "setid", order_by=True),
               Column(_("Algorithm"), "algorithm", order_by=True),
               Column(_("Destinations"), _destinations), Column(_("Description"), "description")]

    def get_queryset(self):
        return DispatcherSet.objects.prefetch_related(_DESTS)


class DispatcherSetDetailView(ObjectDetailView):
    model = DispatcherSet
    template_name = "services/dispatcherset_detail.html"
    fields = [Column(_("Name"), "name"), Column(_("Kamailio set id"), "setid"), Column(_("Algorithm"), "algorithm"),
              Column(_("Description"), "description")]

    def get_queryset(self):
        return DispatcherSet.objects.prefetch_related(_DESTS, "service_codes")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        sets = fallback_sets()
        codes = ServiceCode.objects.exclude(route_to=RouteTo.DISPATCHER_SET).filter(enabled=True)
        ctx["fallback_for"] = [c for c in codes if fallback_setid(c, sets) == self.object.setid]
        return ctx


class DispatcherSetEditView(ObjectEditView):
    model = DispatcherSet
    form_class = DispatcherSetForm
    create_action = staticmethod(actions.create_dispatcher_set)
    update_action = staticmethod(actions.update_dispatcher_set)


class DispatcherSetDeleteView(ObjectDeleteView):
    model = DispatcherSet
    delete_action = staticmethod(actions.delete_dispatcher_set)


def _answered_by(ddi: InboundNumber) -> str:
    if ddi.target == "service":
        return gettext("service %(code)s") % {"code": ddi.service_code} if ddi.service_code_id else "—"
    return gettext("user %(user)s") % {"user": ddi.user} if ddi.user_id else "—"


class InboundNumberListView(TabsMixin, ObjectListView):
    model = InboundNumber
    filterset_class = InboundNumberFilterSet
    columns = [Column(_("Number"), "number", link=True, order_by=True), Column(_("Answered by"), _answered_by),
               Column(_("Trunk"), "trunk", order_by="trunk__name"), Column(_("Enabled"), "enabled", order_by=True),
               Column(_("Description"), "description")]

    def get_queryset(self):
        return InboundNumber.objects.select_related("user", "service_code", "trunk")


class InboundNumberDetailView(ObjectDetailView):
    model = InboundNumber
    fields = [Column(_("Number"), "number"), Column(_("Answered by"), _answered_by), Column(_("Trunk"), "trunk"),
              Column(_("Kamailio (dpid 3) rewrites to"), "destination"), Column(_("Enabled"), "enabled"),
              Column(_("Description"), "description")]

    def get_queryset(self):
        return InboundNumber.objects.select_related("user", "service_code", "trunk")


class InboundNumberEditView(ObjectEditView):
    model = InboundNumber
    form_class = InboundNumberForm
    create_action = staticmethod(actions.create_inbound_number)
    update_action = staticmethod(actions.update_inbound_number)


class InboundNumberDeleteView(ObjectDeleteView):
    model = InboundNumber
    delete_action = staticmethod(actions.delete_inbound_number)


class EstateCheckView(PortalView, TemplateView):
    """Database versus Kamailio memory and each Asterisk's files versus the portal's, for administrators;
    POST repairs (re-project + reload; an Asterisk file is reloaded only when on its node as generated)."""

    model = ServiceCode
    perm_action = "change"
    template_name = "services/estate_check.html"

    def get_permission_required(self):
        return ["services.change_servicecode", "services.change_dispatcherset", "trunks.change_trunk"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["report"] = estate.check_estate()
        ctx["add_url"] = None
        return ctx

    def post(self, request, *args, **kwargs):
        done = estate.repair(reason=f"estate check repair by {request.user.get_username()}")
        messages.success(request, gettext("Repair requested: tables re-projected, %(reloads)s queued.")
                         % {"reloads": done.describe()})
        for line in done.not_repaired:
            messages.warning(request, gettext("Not repaired: %(problem)s") % {"problem": line})
        return HttpResponseRedirect(reverse("services:estate_check"))


# --- what happens when X dials Y ---------------------------------------------------------------------------------


class TraceForm(forms.Form):
    """A caller (a user, or a trunk for a carrier's call to a DDI) and the number it dials. ``caller`` takes
    ``user:<id>``, ``trunk:<id>`` or a bare extension (links from elsewhere)."""

    #: up to this many users the caller is picked from a list; more, and a page of 10,000 options is no help
    PICK_LIMIT = 500

    caller = forms.CharField(label=_("Caller"), widget=forms.Select(attrs={"class": "form-select"}))
    number = forms.CharField(label=_("Dials"), strip=True, widget=forms.TextInput(
                                 attrs={"class": "form-control", "placeholder": "*125", "autocomplete": "off"}),
                             help_text=_("A service code (*125), an extension, a PSTN number, or a DDI for a "
                                         "trunk."))

    def __init__(self, *args, user=None, **kwargs):
        from trunks.models import Trunk
        from users.models import SipUser

        super().__init__(*args, **kwargs)
        # A delegation's administrator traces its own users' calls (voipadmin.scope)
        self.users = scope.restrict(SipUser.objects.all(), user)
        self.trunks = scope.restrict(Trunk.objects.all(), user)
        users = [(f"user:{u.pk}", f"{u.extension} {u.name}") for u in
                 self.users.only("pk", "extension", "name").order_by("extension")[:self.PICK_LIMIT + 1]]
        trunks = [(f"trunk:{t.pk}", f"{t.name} ({t.get_kind_display()})") for t in
                  self.trunks.only("pk", "name", "kind").order_by("name")]
        if len(users) > self.PICK_LIMIT:  # an estate of thousands: typed, with the trunks offered
            self.fields["caller"].widget = forms.TextInput(attrs={
                "class": "form-control", "list": "trace-callers", "autocomplete": "off",
                "placeholder": gettext("an extension (1001), or pick a trunk")})
            self.fields["caller"].help_text = gettext("The caller's extension, or a trunk from the list.")
            self.suggestions = trunks
        else:
            self.fields["caller"].widget.choices = [("", gettext("— pick a user or a trunk —")),
                                                    (gettext("Users"), users),
                                                    (gettext("Trunks (a carrier's call to a DDI)"), trunks)]
            self.suggestions = []

    def clean_caller(self):
        value = self.cleaned_data["caller"].strip()
        kind, sep, key = value.partition(":")
        if not sep:
            kind, key = "extension", value
        if not key.isdigit() or len(key) > 12:
            raise forms.ValidationError(gettext("Pick a user or a trunk from the list."))
        found = {"user": lambda: self.users.filter(pk=int(key)).first(),
                 "extension": lambda: self.users.filter(extension=int(key)).first(),
                 "trunk": lambda: self.trunks.filter(pk=int(key)).first()}.get(kind, lambda: None)()
        if found is None:
            raise forms.ValidationError(gettext("No such user or trunk: pick one from the list."))
        return found

    def clean_number(self):
        try:
            return trace.clean_number(self.cleaned_data["number"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class TraceView(PortalView, TemplateView):
    """The path the estate gives a call, computed from the portal's objects (services.trace) and checked
    against every Kamailio (dialplan.translate, dispatcher.list). Read-only: a GET form."""

    model = ServiceCode
    template_name = "services/trace.html"

    def get_permission_required(self):
        return ["services.view_servicecode", "services.view_dispatcherset", "trunks.view_trunk"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        bound = "number" in self.request.GET  # (a link with only ?caller= picks the caller, asks for the number)
        form = TraceForm(self.request.GET if bound else None, initial={"caller": self.request.GET.get("caller", "")},
                         user=self.request.user)
        ctx.update(form=form, add_url=None)
        if bound and form.is_valid():
            caller = form.cleaned_data["caller"]
            is_user = caller._meta.model_name == "sipuser"
            result = trace.trace_call(form.cleaned_data["number"], user=caller if is_user else None,
                                      trunk=None if is_user else caller)
            verdicts = trace.check_live(result, trace.ask_kamailio(result))
            ctx.update(trace=result, verdicts=verdicts, path=[
                (step, [f for v in verdicts for f in v.findings if f.step == index])
                for index, step in enumerate(result.steps)])
        return ctx
