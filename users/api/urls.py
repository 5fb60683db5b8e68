"""This app's routes, registered on the shared /api/v1/ router by voipadmin/api_urls.py."""
from .views import SipUserViewSet

routes = [("users", SipUserViewSet, "sipuser")]
