"""Small middlewares of the production stack.

``ProxiedClientAddressMiddleware`` (below) gives the views the client's address behind nginx.

``ApiRequestCountMiddleware`` counts every answer under /api/ for /metrics, labelled by the view
that answered (the URL pattern's name, never the raw path: ids would make a series per object).

``PrivateCacheMiddleware`` marks every dynamic answer that says nothing of caching as not to be
stored: portal pages and API answers are per user and carry estate data (and, once, a secret), so
neither a shared proxy nor the browser's disk may keep them. Static files never get here
(whitenoise answers them first, with far-future caching for hashed names).
"""
from __future__ import annotations

import ipaddress

from django.conf import settings
from django.utils.cache import add_never_cache_headers

from .metrics import API_REQUESTS

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class ApiRequestCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith("/api/"):
            match = getattr(request, "resolver_match", None)
            view = match.view_name if match else "unmatched"
            method = request.method if request.method in KNOWN_METHODS else "other"
            API_REQUESTS.labels(method, view, str(response.status_code)).inc()
        return response


class PrivateCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response


class ProxiedClientAddressMiddleware:
    """Behind nginx every request comes from nginx's address; the client's is in X-Forwarded-For.

    Login lock-outs (username + address) and API tokens limited to networks read ``REMOTE_ADDR``, so
    it must be the client's: when the request comes from one of ``PROXY_ADDRESSES`` (set only with
    BEHIND_TLS_PROXY=true), ``REMOTE_ADDR`` becomes the last X-Forwarded-For entry, the one the proxy
    itself wrote (deploy/nginx/voipadmin.conf overwrites the header with ``$remote_addr``). From any
    other address the header is ignored: a client cannot pick its own address.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.proxies = set(getattr(settings, "PROXY_ADDRESSES", []) or [])

    def __call__(self, request):
        if self.proxies and request.META.get("REMOTE_ADDR") in self.proxies:
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
            try:
                request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(forwarded))
            except ValueError:
                pass  # no usable header: the request stays the proxy's own (e.g. its health probe)
        return self.get_response(request)
