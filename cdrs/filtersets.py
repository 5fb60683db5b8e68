"""One FilterSet for call records (Asterisk's and Kamailio's), shared by the UI list page, the API list, the CSV
export and the totals."""
import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from sites.models import Site
from trunks.models import Trunk
from voipadmin.filtersets import EstateFilterSet
from voipadmin.widgets import PeriodInput

from . import attribution
from .models import CallRecord, Disposition, Source


@extend_schema_field(OpenApiTypes.STR)
class NameChoiceFilter(django_filters.ModelChoiceFilter):
    """An object chosen by its slug or name (``?site=branch1&trunk=movistar``)."""


class CdrFilterSet(EstateFilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="start", lookup_expr="gte", label=_("From (start ≥)"),
                                        widget=PeriodInput)
    until = django_filters.IsoDateTimeFilter(field_name="start", lookup_expr="lt", label=_("Until (start <)"),
                                        widget=PeriodInput)
    site = NameChoiceFilter(queryset=Site.objects.all(), to_field_name="slug", method="filter_site",
                            label=_("Site (slug)"))
    trunk = NameChoiceFilter(queryset=Trunk.objects.select_related("e1trunk__asterisk_node__site"),
                             to_field_name="name", method="filter_trunk", label=_("Trunk (name)"))
    src = django_filters.CharFilter(label=_("Source number"))
    dst = django_filters.CharFilter(label=_("Destination number"))
    disposition = django_filters.ChoiceFilter(choices=Disposition.choices, label=_("Disposition"))
    min_billsec = django_filters.NumberFilter(field_name="billsec", lookup_expr="gte",
                                              label=_("Minimum billable seconds"))
    accountcode = django_filters.CharFilter(label=_("Account code"))
    uniqueid = django_filters.CharFilter(label=_("Unique ID"))
    source = django_filters.ChoiceFilter(
        choices=Source.choices,
        label=_("Written by (asterisk: Asterisk's CDR, kamailio: a call Kamailio rang on a phone)"))


    class Meta(EstateFilterSet.Meta):
        model = CallRecord
        fields = ["since", "until", "site", "trunk", "src", "dst", "disposition", "min_billsec", "accountcode",
                  "uniqueid", "source"]

    def filter_site(self, queryset, name, value):
        return queryset.filter(attribution.site_q(value)) if value else queryset

    def filter_trunk(self, queryset, name, value):
        return queryset.filter(attribution.trunk_q(value)) if value else queryset
