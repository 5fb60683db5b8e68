"""/api/v1/… (every app's routes on one router), /api/schema/ and /api/docs/.

Each app lists its routes in ``<app>/api/urls.py`` (``routes = [(prefix, viewset, basename)]``);
an app whose API is not there yet is simply skipped.
"""
from __future__ import annotations

import importlib

from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from voipadmin.api.audit import ChangeLogEntryViewSet
from voipadmin.api.nodes import NodeViewSet
from voipadmin.api.permissions import ApiRole

API_APPS = ["sites.api.urls", "users.api.urls", "trunks.api.urls", "services.api.urls", "media.api.urls",
            "push.rest.urls", "cdrs.api.urls"]

class SwaggerView(SpectacularSwaggerView):
    """swagger-ui's files by their collected (hashed) names, so they are cached like every static file."""

    @staticmethod
    def _swagger_ui_resource(filename):
        return static(f"vendor/swagger-ui/{filename}")

    @staticmethod
    def _swagger_ui_favicon():
        return static("vendor/swagger-ui/favicon-32x32.png")


class EstateRouter(DefaultRouter):
    """DRF's router, with an index only tokens and accounts with an API role may read."""

    class APIRootView(DefaultRouter.APIRootView):
        permission_classes = [ApiRole]


router = EstateRouter()
router.include_format_suffixes = False
extra_urlpatterns: list = []
for module_name in API_APPS:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            continue  # that app has no API yet
        raise
    for prefix, viewset, basename in module.routes:
        router.register(prefix, viewset, basename=basename)
    extra_urlpatterns += getattr(module, "extra_urlpatterns", [])
router.register("audit-log", ChangeLogEntryViewSet, basename="changelogentry")
# Both kinds of node in one read-only list (the kinds' own endpoints are nodes/asterisk/, nodes/kamailio/).
extra_urlpatterns.append(path("nodes/", NodeViewSet.as_view({"get": "list"}), name="node-list"))

urlpatterns = [
    path("api/v1/", include(([*extra_urlpatterns, *router.urls], "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[ApiRole]), name="api-schema"),
    path("api/docs/", SwaggerView.as_view(url_name="api-schema", permission_classes=[ApiRole]), name="api-docs"),
]
