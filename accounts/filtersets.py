"""The accounts list's filters."""
import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from voipadmin.roles import ROLES

from .forms import ROLE_LABELS


class AccountFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    # a method filter has no field path to take its label from: django-filter would print "[invalid name]"
    role = django_filters.ChoiceFilter(method="filter_role", label=_("Role"),
                                       choices=[(r, ROLE_LABELS[r]) for r in ROLES])
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = get_user_model()
        fields = ["q", "role", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(username__icontains=value) | Q(first_name__icontains=value) |
                               Q(last_name__icontains=value) | Q(email__icontains=value))

    def filter_role(self, queryset, name, value):
        return queryset.filter(groups__name=value)
