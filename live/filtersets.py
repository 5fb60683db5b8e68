import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sites.models import AsteriskNode, Site

from .models import ActiveCall, Registration


class ActiveCallFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), label=_("Site"))
    node = django_filters.ModelChoiceFilter(queryset=AsteriskNode.objects.all(), label=_("Node"))

    class Meta:
        model = ActiveCall
        fields = ["q", "site", "node"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(channel__icontains=value) | Q(caller__icontains=value)
                               | Q(callee__icontains=value) | Q(trunk__icontains=value))


class RegistrationFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    nat = django_filters.BooleanFilter(label=_("Behind NAT"))


    class Meta:
        model = Registration
        fields = ["q", "nat"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(user__icontains=value) | Q(contact__icontains=value)
                               | Q(user_agent__icontains=value) | Q(source__icontains=value))
