"""The announcements' audio as the Asterisk nodes fetch it (res_http_media_cache): no login, cacheable forever.

The URL holds the pk, the content hash and an HMAC of both with SECRET_KEY (media/sounds.py): nobody guesses
it, and new audio is a new URL, so the answer never changes and every cache may keep it for good.
"""
from __future__ import annotations

import hmac

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_safe

from . import sounds
from .models import Announcement

MAX_AGE_SECONDS = 365 * 24 * 3600


@require_safe
def serve(request: HttpRequest, pk: int, sha256: str, token: str) -> HttpResponse:
    if not hmac.compare_digest(token, sounds.token(int(pk), sha256)):
        raise Http404("no such sound")
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}, immutable"}
    if etag in request.headers.get("If-None-Match", ""):
        return HttpResponseNotModified(headers=headers)  # the content hash is the ETag: no query needed
    audio = Announcement.objects.filter(pk=pk, sha256=sha256).values_list("audio", flat=True).first()
    if audio is None:
        raise Http404("no such sound")  # deleted, or replaced by new audio (a new URL)
    return HttpResponse(bytes(audio), content_type="audio/wav", headers=headers)
