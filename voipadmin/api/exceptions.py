"""How the API says no: DRF's handler, the database's refusals of a write as 409 (see voipadmin.conflicts),
and JSON 404s for every /api/ URL, routed or not."""
from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from voipadmin.conflicts import conflict_message

API_PREFIX = "/api/"


def exception_handler(exc, context):
    message = conflict_message(exc)
    if message is not None:
        return Response({"detail": message}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)


def page_not_found(request, exception=None):
    """The project's ``handler404``: an API client gets ``{"detail": …}`` as JSON like every other API answer
    (the schema documents it), also for a URL no route matches (``/api/v1/users/1.5/``); people get the page."""
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse({"detail": gettext("Not found.")}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)
