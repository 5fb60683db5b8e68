"""A write the database refused because of another one is a 409 page that says why, never a 500."""
from __future__ import annotations

from django.shortcuts import render

from .api.exceptions import API_PREFIX
from .conflicts import conflict_message


class ConflictMiddleware:
    """Every page: an ``IntegrityError`` or a concurrency failure (``voipadmin.conflicts``) that reaches the
    view's caller is answered with ``409.html`` and the message — nothing was saved, reload and try again.

    The generic edit view catches it first and keeps the form as typed; the API answers 409 itself
    (``voipadmin.api.exceptions``). Any other exception goes on to Django's own handling.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if request.path_info.startswith(API_PREFIX):
            return None
        message = conflict_message(exception)
        if message is None:
            return None
        return render(request, "409.html", {"message": message}, status=409)
