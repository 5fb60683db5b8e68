from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.html import escape, json_script
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy as _

NAV = [
    # (label, url name, permission, bootstrap icon)
    (_("Dashboard"), "dashboard", "sites.view_site", "speedometer2"),
    (_("Sites"), "sites:site_list", "sites.view_site", "buildings"),
    (_("Nodes"), "sites:asterisknode_list", "sites.view_asterisknode", "hdd-network"),
    (_("Users"), "users:sipuser_list", "users.view_sipuser", "people"),
    (_("Trunks"), "trunks:index", "trunks.view_trunk", "diagram-3"),
    (_("Services"), "services:index", "services.view_servicecode", "telephone-forward"),
    (_("Applications"), "media:index", "media.view_conferenceroom", "grid-3x3-gap"),
    (_("Push jobs"), "push:pushjob_list", "push.view_pushjob", "arrow-repeat"),
    (_("Audit log"), "changelog_list", "voipadmin.view_changelogentry", "journal-text"),
    (_("CDRs"), "cdrs:cdr_list", "cdrs.view_cdr", "receipt"),
    (_("API tokens"), "apitoken_list", "voipadmin.manage_apitoken", "key"),
    (_("Accounts"), "accounts:user_list", "auth.view_user", "person-gear"),
]

#: the words static/js/*.js show, translated on the server: base.html writes them into the page as JSON
#: (``<script id="va-strings">``), so the scripts need no catalogue of their own. ``%(n)s``: a number the
#: script puts in.
JS_STRINGS = {
    "selected": _("%(n)s selected:"),
    "none": _("— none —"),
    "dragToReorder": _("Drag to reorder"),
    "moveUp": _("Move up"),
    "moveDown": _("Move down"),
    "remove": _("Remove"),
    "trunkN": _("Trunk %(n)s"),
    "asteriskNode": _("Asterisk node"),
    "priority": _("Priority"),
    "weight": _("Weight"),
    "nodePlaceholder": _("— node —"),
    "addNodePlaceholder": _("— add an Asterisk node —"),
    "addNode": _("Add an Asterisk node"),
    "unknownNode": _("%(node)s (unknown node)"),
    "destinationNode": _("Destination %(n)s node"),
    "destinationPriority": _("Destination %(n)s priority"),
    "destinationWeight": _("Destination %(n)s weight"),
    "removeDestination": _("Remove destination %(n)s"),
}


def portal(request):
    """Navigation entries the current user may see (helpdesk sees only Users), and the scripts' words.

    Both are the same HTML for every page of a kind (the entries a user may see, the one that is current, the
    page's language): built once per process and kept, not looped over in base.html on every request."""
    user = getattr(request, "user", None)
    entries: list[tuple[int, bool]] = []
    if user is not None and user.is_authenticated:
        prefix = get_script_prefix()
        for index, (_label, name, perm, _icon) in enumerate(NAV):
            if not user.has_perm(perm):
                continue
            url = _nav_url(name, prefix)
            if url is None:
                continue
            entries.append((index, request.path.startswith(url) and (url != "/" or request.path == "/")))
    language = get_language()
    return {"portal_nav": _nav_html(tuple(entries), get_script_prefix(), language), "portal_debug": settings.DEBUG,
            "live_reload": settings.LIVE_RELOAD, "js_strings": _js_strings(language)}


@lru_cache(maxsize=256)
def _nav_html(entries: tuple[tuple[int, bool], ...], script_prefix: str, language: str | None) -> SafeString:
    """The navigation bar's items: (NAV index, active) pairs under one mount point, in one language."""
    items = []
    for index, active in entries:
        label, name, _perm, icon = NAV[index]
        items.append(f'<li class="nav-item"><a class="nav-link{" active" if active else ""}" '
                     f'href="{escape(_nav_url(name, script_prefix))}"><i class="bi bi-{icon}"></i> '
                     f'{escape(label)}</a></li>')
    return mark_safe("\n".join(items))


@lru_cache(maxsize=16)
def _js_strings(language: str | None) -> SafeString:
    """``<script id="va-strings" type="application/json">``: JS_STRINGS in one language."""
    return json_script(JS_STRINGS, "va-strings")


@lru_cache(maxsize=64)
def _nav_url(name: str, script_prefix: str) -> str | None:
    """The nav's addresses never change while the process runs: reversed once per mount point, not per page."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


#: settings whose change (in tests only: a deployment restarts) makes kept words or addresses stale
KEPT_FOR = {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS", "ROOT_URLCONF"}


@receiver(setting_changed)
def _forget_kept_html(*, setting, **kwargs) -> None:
    if setting in KEPT_FOR:
        for kept in (_nav_html, _js_strings, _nav_url):
            kept.cache_clear()
