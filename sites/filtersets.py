"""One FilterSet per model, shared by the UI list pages and the API."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from voipadmin.search import matches

from .choices import NodeRole, SiteKind
from .models import AsteriskNode, KamailioNode, Site


class SiteFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    kind = django_filters.ChoiceFilter(choices=SiteKind.choices)

    class Meta:
        model = Site
        fields = ["q", "kind", "sip_domain"]

    def search(self, queryset, name, value):
        # accents and case aside: "malaga" finds "Delegación Málaga" (voipadmin.search)
        return queryset.filter(matches(value, "name", "slug", "address", "sip_domain"))


class AsteriskNodeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), field_name="site")
    # a method filter has no field path to take its label from: django-filter would print "[invalid name]"
    role = django_filters.ChoiceFilter(choices=NodeRole.choices, method="filter_role", label=_("Role"))
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = AsteriskNode
        fields = ["q", "site", "role", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(host__icontains=value) | Q(notes__icontains=value))

    def filter_role(self, queryset, name, value):
        # roles is a comma-separated list of distinct words; match whole words only.
        return queryset.filter(Q(roles=value) | Q(roles__startswith=f"{value},") |
                               Q(roles__endswith=f",{value}") | Q(roles__contains=f",{value},"))


class KamailioNodeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = KamailioNode
        fields = ["q", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(sip_address__icontains=value))
