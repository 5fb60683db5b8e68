import datetime

import django_filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .models import ChangeLogEntry
from .widgets import PeriodInput

# django-filter names a filter after its model field once, with the language active at that moment, and keeps
# that text on the filter (copied into every later filter set): the first Spanish page would fix the labels in
# Spanish for English readers, or the reverse. A lazy label is read in the reader's language each time.
django_filters.filters.label_for_filter = lazy(django_filters.filters.label_for_filter, str)


#: the times a filter can compare with: a day inside Python's calendar at each end, so that no zone a column
#: is read in (``CDR_TIME_ZONE``: a wall time ±14 h away) takes them out of it
EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc) + datetime.timedelta(days=1)
LATEST = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc) - datetime.timedelta(days=1)


def comparable_time(value: datetime.datetime) -> datetime.datetime:
    """``value`` in UTC, held to [EARLIEST, LATEST].

    Any RFC 3339 time is a valid bound (``since=0001-01-01T00:00:00+14:00``), but Python's calendar ends
    at year 1 and 9999 and PostgreSQL refuses offsets beyond ±15:59: converting such a time would overflow
    (a 500) or be refused. Every stored time lies inside the range, so a bound outside it selects the same
    rows as the range's end does — the answer is exact, and never an error.
    """
    if value.tzinfo is None:  # (the form makes every time aware: USE_TZ)
        value = value.replace(tzinfo=timezone.get_current_timezone())
    try:
        value = value.astimezone(datetime.timezone.utc)
    except OverflowError:  # past an end of the calendar once in UTC: the offset says which end
        return EARLIEST if value.utcoffset() > datetime.timedelta(0) else LATEST
    return min(max(value, EARLIEST), LATEST)


class EstateFilterForm(forms.Form):
    """Times are brought to UTC here, once, for the UI and the API alike (see ``comparable_time``)."""

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, datetime.datetime):
                cleaned[name] = comparable_time(value)
        return cleaned


class EstateFilterSet(django_filters.FilterSet):
    """Base of every FilterSet shared by a list page and its API endpoint."""

    class Meta:
        form = EstateFilterForm


#: the apps whose objects the audit log records (auth: an account locked after failed log-ins, voipadmin.lockout)
AUDITED_APPS = ("sites", "users", "trunks", "services", "voipadmin", "auth")


def audit_object_types() -> list[tuple[str, str]]:
    """``app_label.model`` → name, for the objects the audit log can hold (from the app registry: no query)."""
    from django.apps import apps

    types = []
    for label in AUDITED_APPS:
        for model in apps.get_app_config(label).get_models():
            meta = model._meta
            if meta.managed and model is not ChangeLogEntry and (label != "auth" or meta.model_name == "user"):
                types.append((f"{meta.app_label}.{meta.model_name}", capfirst(meta.verbose_name)))  # (ITSP trunk)
    return sorted(types, key=lambda t: t[1])


#: where a change came from (``ChangeLogEntry.source``), as the audit log's pages say it
SOURCES = [("ui", _("Web UI")), ("api", _("API")), ("command", _("Command")), ("system", _("System"))]


class ChangeLogFilterSet(EstateFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    action = django_filters.ChoiceFilter(choices=ChangeLogEntry.Action.choices, label=_("Action"))
    object_type = django_filters.ChoiceFilter(choices=audit_object_types, method="filter_object_type",
                                              label=_("Object type"))
    actor = django_filters.CharFilter(lookup_expr="icontains", label=_("Who"))
    source = django_filters.ChoiceFilter(label=_("Source"), choices=SOURCES)
    since = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="gte", label=_("From"),
                                             widget=PeriodInput)
    until = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="lte", label=_("Until"),
                                             widget=PeriodInput)
    object_id = django_filters.CharFilter(label=_("Object ID"))
    # The API's first filter by object type (a content type's numeric id): kept for the clients that use it,
    # hidden in the page's form (object_type says the same thing in words).
    content_type = django_filters.NumberFilter(field_name="content_type", widget=forms.HiddenInput,
                                               label=_("Content type ID (deprecated: use object_type)"))

    class Meta(EstateFilterSet.Meta):
        model = ChangeLogEntry
        fields = ["q", "action", "object_type", "object_id", "actor", "source", "since", "until", "content_type"]

    def filter_object_type(self, queryset, name: str, value: str):
        """``users.sipuser``: the API's ``object_type``, and the object pages' "history" links."""
        app_label, _, model = value.partition(".")
        try:
            content_type = ContentType.objects.get_by_natural_key(app_label, model)  # (cached)
        except ContentType.DoesNotExist:
            return queryset.none()
        return queryset.filter(content_type=content_type)

    def search(self, queryset, name, value):
        return queryset.filter(Q(object_repr__icontains=value) | Q(actor__icontains=value) |
                               Q(message__icontains=value))
