"""The audit log in templates: ``{% object_history_link obj %}`` (an object page's "History" button) and
``{{ shown|shown_value }}`` (one side of a change, by name, linked while the object exists)."""
from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

register = template.Library()


def history_url(obj) -> str:
    """The audit log filtered to ``obj``: ``/audit/?object_type=users.sipuser&object_id=42``."""
    ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)  # (cached) as audit.record writes it
    return reverse("changelog_list") + "?" + urlencode({"object_type": f"{ct.app_label}.{ct.model}",
                                                        "object_id": str(obj.pk)})


@register.simple_tag(takes_context=True)
def object_history_link(context, obj) -> SafeString:
    """A "History" button to ``obj``'s entries in the audit log, for those who may read the log."""
    user = getattr(context.get("request"), "user", None) or context.get("user")
    if obj is None or getattr(obj, "pk", None) is None or user is None \
            or not user.has_perm("voipadmin.view_changelogentry"):
        return mark_safe("")
    return format_html('<a class="btn btn-outline-secondary" id="object-history" href="{}">'
                       '<i class="bi bi-clock-history"></i> {}</a>', history_url(obj), gettext("History"))


@register.filter
def source_label(source: str) -> str:
    """An entry's ``source`` (ui, api, command, system) in the reader's words."""
    from voipadmin.filtersets import SOURCES

    return str(dict(SOURCES).get(source, source))


@register.filter
def shown_value(shown) -> SafeString:
    """One side of a change (``audit_display.Shown``): — for nothing, a link while the object exists, a muted
    name once it is gone."""
    if shown is None or shown.text is None:
        return mark_safe("—")
    if shown.url:
        return format_html('<a href="{}">{}</a>', shown.url, shown.text)
    if shown.deleted:
        return format_html('<span class="text-muted">{}</span>', shown.text)
    return format_html("{}", shown.text)
