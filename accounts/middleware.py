"""An account's own language and time zone, over the browser's language and the portal's zone."""
from __future__ import annotations

import zoneinfo

from django.utils import timezone, translation


class AccountPreferencesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        profile = _profile(request)
        if profile is not None:
            if profile.language:
                translation.activate(profile.language)
                request.LANGUAGE_CODE = translation.get_language()
            zone = profile.effective_time_zone()
            if zone:
                try:
                    timezone.activate(zoneinfo.ZoneInfo(zone))
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    pass
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _profile(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "token", None) is not None:
        return None
    try:
        return user.profile
    except Exception:  # no profile row
        return None
