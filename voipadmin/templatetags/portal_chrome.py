"""Parts of every page's frame that are the same for every request of a kind, built once per process.

Every page renders its frame (base.html); the parts here depend only on the page's language and whether
someone is signed in, so they are built once for each and kept (bench/production.py, README). What changes
per request (the CSRF token, the page's own address) stays in the templates.
"""
from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language, get_language_info

from voipadmin.context_processors import KEPT_FOR

register = template.Library()


@register.simple_tag(takes_context=True)
def language_buttons(context) -> SafeString:
    """The language picker's buttons (includes/language_picker.html), the current language marked."""
    user = context.get("user")
    return _language_buttons(get_language(), bool(user is not None and user.is_authenticated))


@lru_cache(maxsize=32)
def _language_buttons(current: str | None, signed_in: bool) -> SafeString:
    other = "btn-outline-light" if signed_in else "btn-outline-secondary"
    buttons = []
    for code, _name in settings.LANGUAGES:
        info = get_language_info(code)
        here = info["code"] == current
        style, current_mark = ("btn-secondary active", ' aria-current="true"') if here else (other, "")
        buttons.append(
            f'<button type="submit" name="language" value="{escape(info["code"])}" lang="{escape(info["code"])}" '
            f'class="btn btn-sm {style}"{current_mark}>{escape(capfirst(info["name_local"]))}</button>')
    return mark_safe("".join(buttons))


@receiver(setting_changed)
def _forget_kept_html(*, setting, **kwargs) -> None:
    if setting in KEPT_FOR:
        _language_buttons.cache_clear()
