"""One FilterSet for the push job list (UI, and the API should one be added)."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sites.models import AsteriskNode, KamailioNode

from .intents import COMMANDS
from .models import NodeKind, PushJob, PushState


def _command_choices():
    return [(c, c) for commands in COMMANDS.values() for c in commands]


class PushJobFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    state = django_filters.ChoiceFilter(choices=PushState.choices, label=_("State"))
    node_kind = django_filters.ChoiceFilter(choices=NodeKind.choices, label=_("Node kind"))
    kamailio_node = django_filters.ModelChoiceFilter(queryset=KamailioNode.objects.all(), label=_("Kamailio node"))
    asterisk_node = django_filters.ModelChoiceFilter(queryset=AsteriskNode.objects.all(), label=_("Asterisk node"))
    command = django_filters.ChoiceFilter(choices=_command_choices, label=_("Command"))


    class Meta:
        model = PushJob
        fields = ["q", "state", "node_kind", "kamailio_node", "asterisk_node", "command"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(node_name__icontains=value) | Q(reasons__icontains=value) |
                               Q(last_error__icontains=value))
