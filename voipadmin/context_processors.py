from functools import lru_cache

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, reverse

NAV = [
    # (label, url name, permission, bootstrap icon)
    ("Dashboard", "dashboard", "sites.view_site", "speedometer2"),
    ("Sites", "sites:site_list", "sites.view_site", "buildings"),
    ("Nodes", "sites:asterisknode_list", "sites.view_asterisknode", "hdd-network"),
    ("Users", "users:sipuser_list", "users.view_sipuser", "people"),
    ("Trunks", "trunks:index", "trunks.view_trunk", "diagram-3"),
    ("Services", "services:index", "services.view_servicecode", "telephone-forward"),
    ("Push jobs", "push:pushjob_list", "push.view_pushjob", "arrow-repeat"),
    ("Audit log", "changelog_list", "voipadmin.view_changelogentry", "journal-text"),
    ("CDRs", "cdrs:cdr_list", "cdrs.view_cdr", "receipt"),
    ("API tokens", "apitoken_list", "voipadmin.manage_apitoken", "key"),
]


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
    return {"portal_nav": nav, "portal_debug": settings.DEBUG, "live_reload": settings.LIVE_RELOAD}


@lru_cache(maxsize=64)
def _nav_url(name: str, script_prefix: str) -> str | None:
    """The nav's addresses never change while the process runs: reversed once per mount point, not per page."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None
