import django_filters
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from .models import ChangeLogEntry


class ChangeLogFilterSet(django_filters.FilterSet):
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

    class Meta:
        model = ChangeLogEntry
        fields = ["q", "action", "content_type", "object_id", "actor", "source", "since", "until"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(object_repr__icontains=value) | Q(actor__icontains=value) |
                               Q(message__icontains=value))
