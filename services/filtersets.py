"""One FilterSet per model, shared by the UI list pages and the API."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sites.models import AsteriskNode
from voipadmin import numbers

from .choices import InboundTarget, RouteTo, ServiceKind
from .models import DispatcherSet, InboundNumber, ServiceCode


class DispatcherSetFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    node = django_filters.ModelChoiceFilter(queryset=AsteriskNode.objects.all(), field_name="destinations__node",
                                            label=_("Has node"), distinct=True)

    class Meta:
        model = DispatcherSet
        fields = ["q", "algorithm", "node"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["algorithm"].label = _("Algorithm")  # (generated from the model: its label is English)

    def search(self, queryset, name, value):
        filters = Q(name__icontains=value) | Q(description__icontains=value)
        setid = numbers.int_or_none(value.strip())  # ("²".isdigit() is True, int("²") a 500)
        if setid is not None:
            filters |= Q(setid=setid)
        return queryset.filter(filters)


class ServiceCodeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    kind = django_filters.ChoiceFilter(choices=ServiceKind.choices, label=_("Kind"))
    route_to = django_filters.ChoiceFilter(choices=RouteTo.choices, label=_("Route to"))
    enabled = django_filters.BooleanFilter(label=_("Enabled"))

    class Meta:
        model = ServiceCode
        fields = ["q", "kind", "route_to", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value) |
                               Q(description__icontains=value))


class InboundNumberFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    target = django_filters.ChoiceFilter(choices=InboundTarget.choices, label=_("Target"))
    enabled = django_filters.BooleanFilter(label=_("Enabled"))

    class Meta:
        model = InboundNumber
        fields = ["q", "target", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(number__icontains=value) | Q(description__icontains=value))
