"""This app's routes, registered on the shared /api/v1/ router by voipadmin/api_urls.py."""
from django.urls import path

from .views import CdrViewSet

routes = [("cdrs", CdrViewSet, "cdr")]

# The export is also answered without the router's trailing slash: /api/v1/cdrs/export.csv
extra_urlpatterns = [path("cdrs/export.csv", CdrViewSet.as_view({"get": "export"}), name="cdr-export-csv")]
