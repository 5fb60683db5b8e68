"""One FilterSet per model, shared by the UI list pages and the API."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from services.choices import Announcement as Purpose
from sites.models import Site
from voipadmin.filtersets import EstateFilterSet
from voipadmin.search import matches

from .models import (AgiApplication, AgiStrategy, Announcement, ConferenceProfile, ConferenceRoom, IvrMenu,
                     SiteAnnouncement)


class _Search(EstateFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    search_fields = ("name", "description")

    def search(self, queryset, name, value):
        return queryset.filter(matches(value.strip(), *self.search_fields))


class _SiteFilters(_Search):
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), label=_("Site"))
    enabled = django_filters.BooleanFilter(label=_("Enabled"))


class ConferenceProfileFilterSet(_Search):
    record = django_filters.BooleanFilter(label=_("Record"))

    class Meta:
        model = ConferenceProfile
        fields = ["q", "record"]


class ConferenceRoomFilterSet(_SiteFilters):
    profile = django_filters.ModelChoiceFilter(queryset=ConferenceProfile.objects.all(), label=_("Profile"))

    class Meta:
        model = ConferenceRoom
        fields = ["q", "site", "profile", "enabled"]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(matches(value, "name", "description") | Q(number__startswith=value) |
                               Q(service_code__code=value))


class IvrMenuFilterSet(_SiteFilters):
    class Meta:
        model = IvrMenu
        fields = ["q", "site", "enabled"]


class AgiApplicationFilterSet(_SiteFilters):
    strategy = django_filters.ChoiceFilter(choices=AgiStrategy.choices, label=_("Strategy"))
    search_fields = ("name", "description", "app_id", "app_type")

    class Meta:
        model = AgiApplication
        fields = ["q", "site", "strategy", "enabled"]


class AnnouncementFilterSet(_Search):
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), label=_("Site"))

    class Meta:
        model = Announcement
        fields = ["q", "site"]


class SiteAnnouncementFilterSet(EstateFilterSet):
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), label=_("Site"))
    purpose = django_filters.ChoiceFilter(choices=Purpose.choices, label=_("Purpose"))

    class Meta:
        model = SiteAnnouncement
        fields = ["site", "purpose"]
