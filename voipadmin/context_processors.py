from functools import lru_cache

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.translation import gettext_lazy as _

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
    """Navigation entries the current user may see (helpdesk sees only Users)."""
    user = getattr(request, "user", None)
    nav = []
    if user is not None and user.is_authenticated:
        for label, name, perm, icon in NAV:
            if not user.has_perm(perm):
                continue
            url = _nav_url(name, get_script_prefix())
            if url is None:
                continue
            nav.append({"label": label, "url": url, "icon": icon,
                        "active": request.path.startswith(url) and (url != "/" or request.path == "/")})
    return {"portal_nav": nav, "portal_debug": settings.DEBUG, "live_reload": settings.LIVE_RELOAD,
            "js_strings": JS_STRINGS}


@lru_cache(maxsize=64)
def _nav_url(name: str, script_prefix: str) -> str | None:
    """The nav's addresses never change while the process runs: reversed once per mount point, not per page."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None
