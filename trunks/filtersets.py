"""One FilterSet per model, shared by the UI list pages and the API."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import E1Role, ItspAuth, RouteKind, TrunkKind
from .models import E1Trunk, ItspTrunk, OutboundRoute, Trunk


class TrunkFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    kind = django_filters.ChoiceFilter(choices=TrunkKind.choices, label=_("Kind"))
    enabled = django_filters.BooleanFilter(label=_("Enabled"))

    class Meta:
        model = Trunk
        fields = ["q", "kind", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


class E1TrunkFilterSet(TrunkFilterSet):
    role = django_filters.ChoiceFilter(choices=E1Role.choices, label=_("Role"))

    class Meta:
        model = E1Trunk
        fields = ["q", "role", "asterisk_node", "enabled"]


class ItspTrunkFilterSet(TrunkFilterSet):
    auth_mode = django_filters.ChoiceFilter(choices=ItspAuth.choices, label=_("Auth mode"))

    class Meta:
        model = ItspTrunk
        fields = ["q", "auth_mode", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(host__icontains=value) |
                               Q(description__icontains=value))


class OutboundRouteFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    kind = django_filters.ChoiceFilter(choices=RouteKind.choices, label=_("Kind"))
    trunk = django_filters.ModelChoiceFilter(queryset=Trunk.objects.all(), field_name="route_trunks__trunk",
                                             label=_("Uses trunk"))
    enabled = django_filters.BooleanFilter(label=_("Enabled"))

    class Meta:
        model = OutboundRoute
        fields = ["q", "kind", "trunk", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(pattern__icontains=value) |
                               Q(description__icontains=value))
