import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from voipadmin.showwhen import ShowWhenMixin
from voipadmin.views import ActionFormMixin

from . import actions
from .choices import ALGORITHM_HELP_TEXT, InboundTarget, RouteTo, ServiceKind
from .models import DispatcherSet, InboundNumber, ServiceCode


class DispatcherSetForm(ActionFormMixin, forms.ModelForm):
    destination_lines = forms.CharField(
        required=False, label=_("Destinations"), widget=forms.Textarea(attrs={"rows": 5}),
        help_text=format_lazy("{} {}", _(
            "One Asterisk node per line: <node name> [priority=N] [weight=N] [flags=N] [attrs=duid=x], "
            "e.g. ast-central priority=10 weight=2. Priority (higher first) picks the node with "
            "“First by priority”; round robin ignores it."), _(
            "Least-loaded sets: max_calls=N caps a node's calls at once (empty: no limit); relative weight uses "
            "weight=N as the node's share.")))

    class Meta:
        model = DispatcherSet
        fields = ["setid", "name", "algorithm", "description"]
        labels = {"name": _("Name"), "algorithm": _("Algorithm"), "description": _("Description")}
        help_texts = {"algorithm": format_lazy("{}{}{}", _(
            "“First by priority” sends every call to the active destination with the highest priority and "
            "fails over down the list. Round robin, weight and the hashes spread calls over every active "
            "destination and ignore priorities (they only order the failover). Whatever the algorithm, a "
            "destination that stops answering Kamailio's OPTIONS keepalive gets no calls until it answers "
            "again, and a set that stands in for a code's own node is used by priority."), " ", ALGORITHM_HELP_TEXT)}

    def __init__(self, *args, **kwargs):
        from sites.models import AsteriskNode

        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["destination_lines"] = actions.format_destinations(self.instance)
        # static/js/destinations-picker.js turns the lines into rows whose node is picked from this list
        nodes = AsteriskNode.objects.select_related("site").order_by("site__name", "name")
        self.fields["destination_lines"].widget.attrs["data-nodes"] = json.dumps(
            [{"name": n.name, "label": f"{n.name} ({n.site.name}, {n.sip_uri})"} for n in nodes])

    def clean_destination_lines(self):
        try:
            return actions.parse_destinations(self.cleaned_data["destination_lines"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def action_fields(self):
        return {**super().action_fields(), "destinations": self.cleaned_data["destination_lines"]}


#: which kinds take a parameter (projection.code_steps): a room, an IVR context, a sound file, Dial() targets
PARAMETER_KINDS = {ServiceKind.CONFERENCE.value, ServiceKind.IVR.value, ServiceKind.ANNOUNCEMENT.value,
                   ServiceKind.DOUBLE_DIAL.value}


class ServiceCodeForm(ShowWhenMixin, ActionFormMixin, forms.ModelForm):
    """Only the target the code is routed to (a set, a node, or the caller's home: neither) and only the
    settings its kind uses; the others are hidden and saved empty."""

    show_when = {"dispatcher_set": ("route_to", {RouteTo.DISPATCHER_SET.value}),
                 "node": ("route_to", {RouteTo.NODE.value}),
                 "announcement": ("kind", {ServiceKind.ANNOUNCEMENT.value}),
                 "parameter": ("kind", PARAMETER_KINDS)}

    class Meta:
        model = ServiceCode
        fields = ["code", "name", "kind", "enabled", "route_to", "dispatcher_set", "node", "announcement",
                  "parameter", "description"]
        labels = {"code": _("Code"), "name": _("Name"), "kind": _("Kind"), "enabled": _("Enabled"),
                  "route_to": _("Route to"), "dispatcher_set": _("Dispatcher set"), "node": _("Node"),
                  "announcement": _("Announcement"), "parameter": _("Parameter"), "description": _("Description")}


class InboundNumberForm(ShowWhenMixin, ActionFormMixin, forms.ModelForm):
    show_when = {"user": ("target", {InboundTarget.USER.value}),
                 "service_code": ("target", {InboundTarget.SERVICE.value})}

    class Meta:
        model = InboundNumber
        fields = ["number", "trunk", "target", "user", "service_code", "enabled", "description"]
        labels = {"number": _("Number"), "trunk": _("Trunk"), "target": _("Target"), "user": _("User"),
                  "service_code": _("Service code"), "enabled": _("Enabled"), "description": _("Description")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = self.fields["user"].queryset.select_related("site")
