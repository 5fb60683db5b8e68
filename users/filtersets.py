"""One FilterSet for SIP users, shared by the list page, the CSV export and (later) the API."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sites.models import Site
from voipadmin import numbers
from voipadmin.search import matches

from .models import SipUser


class SipUserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"),
                                  help_text=_("Extension, name or email"))
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), field_name="site")
    enabled = django_filters.BooleanFilter()
    voicemail_enabled = django_filters.BooleanFilter(label=_("Voicemail"))

    class Meta:
        model = SipUser
        fields = ["q", "site", "enabled", "voicemail_enabled"]

    def search(self, queryset, name, value):
        value = value.strip()
        cond = matches(value, "name", "email")  # "garcia" finds "García" (voipadmin.search)
        extension = numbers.int_or_none(value)  # (one parser: "²".isdigit() is True, but int() refuses it)
        if extension is not None:
            cond |= Q(extension=extension)
            # a prefix such as "10" finds 1000-1099 as well
            cond |= Q(extension__startswith=value) if len(value) < 10 else Q()
        return queryset.filter(cond)
