"""Template helpers of the live estate: ages, state colours, the extension-state badge.

Users pages (list)::

    {% load live %}
    {% extension_states_for page_obj.object_list "extension" as ext_states %}   {# 4 queries per page #}
    ... {% include "live/extension_state_badge.html" with state=ext_states|state_of:user.extension %}

User detail page::

    {% load live %}{% extension_state_badge user.extension %}
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from django import template
from django.utils import timezone
from django.utils.translation import gettext, pgettext, pgettext_lazy

from ..choices import ExtensionStatus
from ..reasons import translate_reason
from ..state import extension_states

register = template.Library()

BADGE = {
    "up": "success", "degraded": "warning", "down": "danger", "unknown": "secondary", "disabled": "secondary",
    "pending": "info", "alarm": "danger",
    ExtensionStatus.RINGING: "warning", ExtensionStatus.IN_USE: "danger", ExtensionStatus.IDLE: "success",
    ExtensionStatus.REGISTERED: "primary", ExtensionStatus.UNAVAILABLE: "secondary",
}


@register.filter
def badge(state: str) -> str:
    """Bootstrap colour of a node/trunk/extension state."""
    return BADGE.get(str(state), "secondary")


@register.filter
def age(value: Any) -> str:
    """Seconds (number) or a datetime → "4s", "3 min", "2 h", "5 d" ago-style text."""
    if value is None or value == "":
        return pgettext("an age", "never")
    if isinstance(value, datetime):
        value = (timezone.now() - value).total_seconds()
    seconds = max(int(value), 0)
    if seconds < 90:
        return gettext("%(seconds)ss") % {"seconds": seconds}
    if seconds < 5400:
        return gettext("%(minutes)s min") % {"minutes": seconds // 60}
    if seconds < 172800:
        return gettext("%(hours)s h") % {"hours": seconds // 3600}
    return gettext("%(days)s d") % {"days": seconds // 86400}


#: the state words pages show in lower case (a node's, a site's, a trunk's), as the poller stores them
HEALTH_WORDS = {
    "up": pgettext_lazy("node state", "up"), "degraded": pgettext_lazy("node state", "degraded"),
    "down": pgettext_lazy("node state", "down"), "unknown": pgettext_lazy("node state", "unknown"),
    "disabled": pgettext_lazy("node state", "disabled"), "pending": pgettext_lazy("node state", "pending"),
    "alarm": pgettext_lazy("node state", "alarm"),
}


@register.filter
def health(state: Any) -> str:
    """A state value ("up", "down", ...) as the word the page shows, in the reader's language."""
    word = HEALTH_WORDS.get(str(state))
    return str(word) if word is not None else str(state)


@register.filter
def reason(text: Any) -> str:
    """Why a node is degraded or down, in the reader's language (live.reasons)."""
    return translate_reason(str(text)) if text else ""



@register.filter
def uptime(seconds: Any) -> str:
    if seconds in (None, ""):
        return "—"
    seconds = int(seconds)
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    return f"{d}d {h}h {m}m" if d else f"{h}h {m}m"


@register.simple_tag
def extension_states_for(objects: Iterable[Any], attr: str = "extension") -> dict[str, str]:
    """Merged states of a page of objects' extensions, in one go (use once per page)."""
    return extension_states([str(getattr(o, attr)) for o in objects if getattr(o, attr, None) not in (None, "")])


@register.filter
def state_of(states: dict[str, str] | None, extension: Any) -> str:
    return (states or {}).get(str(extension), ExtensionStatus.UNAVAILABLE)


@register.inclusion_tag("live/extension_state_badge.html")
def extension_state_badge(extension: Any) -> dict[str, Any]:
    """One extension's badge (detail pages; for lists use extension_states_for + include)."""
    return {"state": extension_states([str(extension)]).get(str(extension), ExtensionStatus.UNAVAILABLE)}


@register.filter
def state_label(state: str) -> str:
    try:
        return ExtensionStatus(state).label
    except ValueError:
        return str(state)


@register.inclusion_tag("live/node_card.html", takes_context=True)
def live_node_card(context, node) -> dict[str, Any]:
    """Live state of an Asterisk or Kamailio node for its sites page (``{% live_node_card object %}``)."""
    from django.core.exceptions import ObjectDoesNotExist
    from django.urls import reverse

    kind = "asterisk" if node._meta.model_name == "asterisknode" else "kamailio"
    try:
        live = node.live_state
    except ObjectDoesNotExist:
        live = None
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "node": node, "live": live, "age": live.age_seconds() if live else None,
        "live_url": reverse(f"live:{kind}_node", args=[node.pk]),
        "test_url": reverse(f"live:{kind}_node_test", args=[node.pk]),
        "can_test": bool(user and user.has_perm(f"sites.change_{node._meta.model_name}")),
        "csrf_token": context.get("csrf_token"),
    }
