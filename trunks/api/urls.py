"""This app's routes, registered on the shared /api/v1/ router by voipadmin/api_urls.py."""
from .views import E1TrunkViewSet, ItspTrunkViewSet, OutboundRouteViewSet

routes = [
    ("trunks/e1", E1TrunkViewSet, "e1trunk"),
    ("trunks/itsp", ItspTrunkViewSet, "itsptrunk"),
    ("routes", OutboundRouteViewSet, "outboundroute"),
]
