"""This app's routes, registered on the shared /api/v1/ router by voipadmin/api_urls.py."""
from .views import AsteriskNodeViewSet, KamailioNodeViewSet, SiteViewSet

routes = [
    ("sites", SiteViewSet, "site"),
    ("nodes/asterisk", AsteriskNodeViewSet, "asterisknode"),
    ("nodes/kamailio", KamailioNodeViewSet, "kamailionode"),
]
