"""This app's routes, registered on the shared /api/v1/ router by voipadmin/api_urls.py."""
from .views import DispatcherSetViewSet, InboundNumberViewSet, ServiceCodeViewSet

routes = [
    ("dispatcher-sets", DispatcherSetViewSet, "dispatcherset"),
    ("service-codes", ServiceCodeViewSet, "servicecode"),
    ("inbound-numbers", InboundNumberViewSet, "inboundnumber"),
]
