"""One FilterSet per model, shared by the UI list pages and the API."""
import django_filters
from django.db.models import Q

from sites.models import AsteriskNode
from voipadmin import numbers

from .choices import InboundTarget, RouteTo, ServiceKind
from .models import DispatcherSet, InboundNumber, ServiceCode


class DispatcherSetFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    node = django_filters.ModelChoiceFilter(queryset=AsteriskNode.objects.all(), field_name="destinations__node",
                                            label="Has node", distinct=True)

    class Meta:
        model = DispatcherSet
        fields = ["q", "algorithm", "node"]

    def search(self, queryset, name, value):
        filters = Q(name__icontains=value) | Q(description__icontains=value)
        setid = numbers.int_or_none(value.strip())  # ("²".isdigit() is True, int("²") a 500)
        if setid is not None:
            filters |= Q(setid=setid)
        return queryset.filter(filters)


class ServiceCodeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    kind = django_filters.ChoiceFilter(choices=ServiceKind.choices)
    route_to = django_filters.ChoiceFilter(choices=RouteTo.choices)
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = ServiceCode
        fields = ["q", "kind", "route_to", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value) |
                               Q(description__icontains=value))


class InboundNumberFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    target = django_filters.ChoiceFilter(choices=InboundTarget.choices)
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = InboundNumber
        fields = ["q", "target", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(number__icontains=value) | Q(description__icontains=value))
