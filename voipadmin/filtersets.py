import datetime

import django_filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from .models import ChangeLogEntry


class EstateFilterForm(forms.Form):
    """Times are brought to UTC here, once, for the UI and the API alike: PostgreSQL refuses offsets
    beyond ±15:59 and far-off years overflow, and either must be a clear error, never a 500."""

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, datetime.datetime):
                if not 1000 <= value.year <= 9000:
                    self.add_error(name, "Give a time between the years 1000 and 9000.")
                elif value.tzinfo is not None:
                    cleaned[name] = value.astimezone(datetime.timezone.utc)
        return cleaned


class EstateFilterSet(django_filters.FilterSet):
    """Base of every FilterSet shared by a list page and its API endpoint."""

    class Meta:
        form = EstateFilterForm


class ChangeLogFilterSet(EstateFilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    action = django_filters.ChoiceFilter(choices=ChangeLogEntry.Action.choices)
    content_type = django_filters.ModelChoiceFilter(
        queryset=ContentType.objects.filter(app_label__in=["sites", "users", "trunks", "services", "voipadmin"]),
        label="Object type")
    actor = django_filters.CharFilter(lookup_expr="icontains")
    source = django_filters.ChoiceFilter(choices=[("ui", "Web UI"), ("api", "API"), ("command", "Command"),
                                                  ("system", "System")])
    since = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="lte")
    object_id = django_filters.CharFilter()

    class Meta(EstateFilterSet.Meta):
        model = ChangeLogEntry
        fields = ["q", "action", "content_type", "object_id", "actor", "source", "since", "until"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(object_repr__icontains=value) | Q(actor__icontains=value) |
                               Q(message__icontains=value))
