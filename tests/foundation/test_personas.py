"""Every page, for every persona: administrators may, helpdesk only its few pages, anonymous nothing.

URLs are discovered from the URLconf (with the demo estate loaded so each `<pk>` has an object),
so a page added later is covered without anybody remembering to list it here.
"""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

# Pages a helpdesk user may open; everything else answers 403 to them.
HELPDESK_ALLOWED = {"home", "users:sipuser_list", "users:sipuser_detail", "users:sipuser_reset_pin",
                    "live:extension_state_badges", "logout", "login", "set_language"}
# Every signed-in account's own pages: its language, time zone, password and two-factor login.
OWN_ACCOUNT = {"accounts:me", "accounts:password_change", "accounts:password_change_done", "twofactor:setup",
               "twofactor:verify", "twofactor:recovery_codes", "twofactor:disable"}
HELPDESK_ALLOWED |= OWN_ACCOUNT
# Pages outside the persona rules (public or handled by Django itself; /healthz and /metrics are for load
# balancers and Prometheus, with their own rules: tests/production/test_health.py).
EXEMPT_PREFIXES = ("django-admin/", "static/", "api/", "healthz", "metrics")
PUBLIC = {"login", "set_language", "twofactor:verify"}  # (the language picker; a log-in's code step)


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern) and p.name:
            yield namespace + p.name, prefix + str(p.pattern), p.callback


def _model_of(callback):
    view_class = getattr(callback, "view_class", None)
    return getattr(view_class, "model", None)


def _pages():
    pages = []
    for name, route, callback in _walk(get_resolver().url_patterns):
        if route.startswith(EXEMPT_PREFIXES) or "<" in route and "<int:pk>" not in route:
            continue
        view_class = getattr(callback, "view_class", None)
        if view_class is not None and not hasattr(view_class, "get"):
            continue  # POST-only actions (retry, repair): covered by the POST test below
        pages.append((name, route, callback))
    return pages


def _url(route: str, callback) -> str | None:
    if "<nodekind:kind>" in route:  # a node's push queue: an Asterisk's
        from sites.models import AsteriskNode

        node = AsteriskNode.objects.order_by("pk").first()
        return "/" + route.replace("<nodekind:kind>", "asterisk").replace("<int:pk>", str(node.pk)) if node else None
    if "<int:pk>" not in route:
        return "/" + route
    model = _model_of(callback)
    obj = model.objects.order_by("pk").first() if model is not None else None
    if obj is None:
        return None
    return "/" + route.replace("<int:pk>", str(obj.pk))


@pytest.fixture
def estate(db):
    call_command("load_demo_estate")


def _get_pages(estate):
    return [(name, _url(route, cb)) for name, route, cb in _pages() if _url(route, cb)]


def test_every_page_needs_a_login(client, estate):
    for name, url in _get_pages(estate):
        if name in PUBLIC or name == "logout":
            continue
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], f"{name} {url} is open"


def test_an_administrator_can_open_every_page(admin_client, estate):
    for name, url in _get_pages(estate):
        if name == "logout":
            continue
        response = admin_client.get(url, follow=False)
        assert response.status_code in (200, 302), f"{name} {url} answered {response.status_code}"


def test_helpdesk_is_refused_everything_but_finding_users_and_resetting_pins(helpdesk_client, estate):
    for name, url in _get_pages(estate):
        if name in HELPDESK_ALLOWED or name == "logout":
            continue
        response = helpdesk_client.get(url)
        assert response.status_code == 403, f"helpdesk reached {name} {url} ({response.status_code})"


def _post_pages():
    pages = []
    for name, route, callback in _walk(get_resolver().url_patterns):
        if route.startswith(EXEMPT_PREFIXES) or name in PUBLIC or name == "logout":
            continue
        if "<" in route and "<int:pk>" not in route:
            continue
        view_class = getattr(callback, "view_class", None)
        if view_class is not None and hasattr(view_class, "post"):
            url = _url(route, callback)
            if url:
                pages.append((name, url))
    return pages


def test_helpdesk_cannot_post_to_anything_but_a_pin_reset(helpdesk_client, estate):
    for name, url in _post_pages():
        if name in HELPDESK_ALLOWED:
            continue
        response = helpdesk_client.post(url, {})
        assert response.status_code == 403, f"helpdesk posted to {name} {url} ({response.status_code})"


def test_a_user_with_no_role_sees_nothing(client, charlie, estate):
    client.force_login(charlie)
    for name, url in _get_pages(estate):
        if name in PUBLIC or name in {"logout", "home"} | OWN_ACCOUNT:
            continue
        assert client.get(url).status_code == 403, f"charlie reached {name} {url}"


def test_the_navigation_matches_the_role(admin_client, bob, estate):
    from django.test import Client

    admin_nav = admin_client.get("/sites/").content.decode()
    for label in ("Dashboard", "Sites", "Nodes", "Audit log"):
        assert f"</i> {label}</a>" in admin_nav
    helpdesk_client = Client()
    helpdesk_client.force_login(bob)
    helpdesk_page = helpdesk_client.get("/", follow=True)
    nav = helpdesk_page.content.decode()
    for label in ("Dashboard", "Sites", "Nodes", "Audit log", "Trunks", "Services"):
        assert f"</i> {label}</a>" not in nav
