"""Log-in lock-out: django-axes per (user name, address), plus a ceiling per account.

axes locks a user name *from one address* after ``AXES_FAILURE_LIMIT`` failures: 100 addresses would get
500 guesses at one password. ``AccountCeilingHandler`` also counts an account's failures from every address
within the cool-off window (``AXES_COOLOFF_TIME``, the rows axes already keeps) and, at
``LOGIN_ACCOUNT_FAILURE_LIMIT``, locks the account everywhere — its own person included, which is the price:
the lock lifts a cool-off after the last failure, or at once with ``manage.py axes_reset_username <name>``.
Crossing the ceiling writes one alert into the audit log (one per lock: failures during the lock extend it
but alert nobody twice), and the log-in page says why.
"""
from __future__ import annotations

import zlib

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Count, Sum

from .models import ChangeLogEntry

DEFAULT_ACCOUNT_FAILURE_LIMIT = 20
#: the audit log's word for it (and what tests and people search for)
ALERT = "Account locked"
#: first key of the advisory lock that serialises one account's failures (an arbitrary constant)
LOCK_NAMESPACE = 0x61786573  # "axes"


def account_failure_limit() -> int:
    return int(getattr(settings, "LOGIN_ACCOUNT_FAILURE_LIMIT", DEFAULT_ACCOUNT_FAILURE_LIMIT))


class AccountCeilingHandler(AxesDatabaseHandler):
    """axes' database handler, with the per-account ceiling."""

    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or self.account_locked(request, credentials)

    def account_locked(self, request, credentials=None) -> bool:
        username = get_client_username(request, credentials)
        return bool(username) and failures(request, username)[0] >= account_failure_limit()

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        username = get_client_username(request, credentials) if request is not None else None
        if not username:
            return super().user_login_failed(sender, credentials, request, **kwargs)
        limit = account_failure_limit()
        with transaction.atomic():
            _serialise(username)  # two failures at once must not both (or neither) see the ceiling crossed
            before = failures(request, username)[0]
            super().user_login_failed(sender, credentials, request, **kwargs)
            total, addresses = failures(request, username)
            if total >= limit:
                request.axes_locked_out = True  # axes' middleware answers with the lock-out page
                request.voipadmin_account_locked = True
                request.axes_credentials = credentials
                if before < limit:
                    alert(username, total, addresses)


def failures(request, username: str) -> tuple[int, int]:
    """(failed log-ins, addresses they came from) for ``username`` within the cool-off window."""
    counts = (AccessAttempt.objects.filter(username=username, attempt_time__gte=get_cool_off_threshold(request))
              .aggregate(total=Sum("failures_since_start"), addresses=Count("ip_address", distinct=True)))
    return counts["total"] or 0, counts["addresses"] or 0


def _serialise(username: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                           [LOCK_NAMESPACE, zlib.crc32(username.encode()) & 0x7FFFFFFF])


def alert(username: str, total: int, addresses: int) -> ChangeLogEntry:
    """The audit log's record of a lock: on the account when there is one, else on the name that was tried."""
    User = get_user_model()
    user_id = User._default_manager.filter(**{User.USERNAME_FIELD: username}).values_list("pk", flat=True).first()
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return ChangeLogEntry.objects.create(
        actor="login lock-out", source="system", action=ChangeLogEntry.Action.OTHER,
        content_type=ContentType.objects.get_for_model(User), object_id=str(user_id or username)[:64],
        object_repr=username[:200],
        message=(f"{ALERT}: {total} failed log-ins from {addresses} address(es) within {minutes} minutes "
                 f"(ceiling {account_failure_limit()})")[:200])
