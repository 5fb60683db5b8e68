"""/healthz (no login, for load balancers and monitoring) and /metrics (Prometheus, bearer token)."""
from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from . import health, metrics

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, else 503 naming the failing ones; ``?check=database,broker`` runs only those
    (a load balancer that should only drop a portal that cannot serve pages asks for just the database)."""
    wanted = tuple(name.strip() for name in request.GET.get("check", "").split(",") if name.strip())
    unknown = [name for name in wanted if name not in health.CHECKS]
    if unknown:
        return JsonResponse({"error": f"unknown check(s): {', '.join(unknown)}; known: {', '.join(health.CHECKS)}"},
                            status=400)
    checks = health.run_checks(wanted or health.CHECKS)
    failing = [c.name for c in checks if not c.ok]
    body = {"status": "failing" if failing else "ok", "failing": failing,
            "checks": {c.name: c.as_dict() for c in checks}}
    response = JsonResponse(body, status=503 if failing else 200)
    add_never_cache_headers(response)
    # A probe every few seconds during an outage must not write an ERROR line each time: the failing
    # checks are in the answer and in /metrics (voipadmin_health_check_ok).
    response._has_been_logged = True
    return response


def _bearer_token_ok(request: HttpRequest, expected: str) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition, to holders of ``VOIPADMIN_METRICS_TOKEN`` only (404 while it is unset)."""
    expected = getattr(settings, "METRICS_TOKEN", "")
    if not expected:
        return HttpResponse("/metrics is off: set VOIPADMIN_METRICS_TOKEN (or _FILE)\n", status=404,
                            content_type="text/plain; charset=utf-8")
    if not _bearer_token_ok(request, expected):
        response = HttpResponse("a bearer token is required\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="voipadmin metrics"'
        return response
    response = HttpResponse(metrics.render(), content_type=PROMETHEUS_CONTENT_TYPE)
    add_never_cache_headers(response)
    return response
