"""One FilterSet per model, shared by the UI list pages and the API."""
import django_filters
from django.db.models import Q

from .choices import E1Role, ItspAuth, RouteKind, TrunkKind
from .models import E1Trunk, ItspTrunk, OutboundRoute, Trunk


class TrunkFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    kind = django_filters.ChoiceFilter(choices=TrunkKind.choices)
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = Trunk
        fields = ["q", "kind", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


class E1TrunkFilterSet(TrunkFilterSet):
    role = django_filters.ChoiceFilter(choices=E1Role.choices)

    class Meta:
        model = E1Trunk
        fields = ["q", "role", "asterisk_node", "enabled"]


class ItspTrunkFilterSet(TrunkFilterSet):
    auth_mode = django_filters.ChoiceFilter(choices=ItspAuth.choices)

    class Meta:
        model = ItspTrunk
        fields = ["q", "auth_mode", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(host__icontains=value) |
                               Q(description__icontains=value))


class OutboundRouteFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    kind = django_filters.ChoiceFilter(choices=RouteKind.choices)
    trunk = django_filters.ModelChoiceFilter(queryset=Trunk.objects.all(), field_name="route_trunks__trunk",
                                             label="Uses trunk")

    class Meta:
        model = OutboundRoute
        fields = ["q", "kind", "trunk", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(pattern__icontains=value) |
                               Q(description__icontains=value))
