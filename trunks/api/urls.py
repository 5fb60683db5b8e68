"""This app's routes, registered on the shared /api/v1/ router by voipadmin/api_urls.py."""
from .views import E1TrunkViewSet, ItspTrunkViewSet, OutboundRouteViewSet, TrunkViewSet

routes = [
    ("trunks/e1", E1TrunkViewSet, "e1trunk"),
    ("trunks/itsp", ItspTrunkViewSet, "itsptrunk"),
    ("trunks", TrunkViewSet, "trunk"),  # read-only, both kinds (after the two above: they match first)
    ("routes", OutboundRouteViewSet, "outboundroute"),
]
