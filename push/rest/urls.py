"""This app's routes, registered on the shared /api/v1/ router by voipadmin/api_urls.py.

(``push.rest``, not ``push.api``: ``push.api`` is the in-process API other apps call.)
"""
from .views import PushJobViewSet

routes = [
    ("push-jobs", PushJobViewSet, "pushjob"),
]
