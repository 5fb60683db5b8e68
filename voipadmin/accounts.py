"""Operations on portal log-in accounts (Django's auth users), through the one write path (``crud``), audited.

Today it holds what the command line needs to get an operator in: the first administrator, and the
recovery when its one-time password was missed or the account is locked out.
"""
from __future__ import annotations

import secrets

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction

from . import crud
from .actors import Actor
from .roles import ADMINISTRATOR


def new_password() -> str:
    return secrets.token_urlsafe(12)


def _administrator_role(user) -> None:
    user.groups.add(Group.objects.get(name=ADMINISTRATOR))


def create_administrator(*, actor: Actor, username: str) -> tuple[object, str]:
    """An estate-wide administrator with a generated password (returned once; only its hash is stored)."""
    password = new_password()
    user = crud.create(get_user_model(), actor=actor, message="administrator created; password issued once",
                       fields={"username": username, "password": make_password(password), "is_staff": True,
                               "is_superuser": True},
                       related=_administrator_role)
    return user, password


def reset_administrator(*, actor: Actor, username: str) -> tuple[object, str]:
    """Give an administrator back: a new password, the account active, its lock-outs cleared, the role restored.

    For the operator who missed the one-time print or locked the only administrator out; it needs shell
    access to the portal host, which is the authority here.
    """
    user = get_user_model().objects.get(username=username)
    lockouts = AccessAttempt.objects.filter(username=username)
    password = new_password()

    def related(account) -> None:
        _administrator_role(account)
        lockouts.delete()

    with transaction.atomic():
        second_factor = "; two-factor login reset" if _reset_two_factor(actor, user) else ""
        user = crud.update(user, actor=actor, related=related,
                           message=f"password reset from the command line; {lockouts.count()} lock-out record(s) "
                                   f"cleared{second_factor}",
                           fields={"password": make_password(password), "is_active": True, "is_staff": True,
                                   "is_superuser": True})
    return user, password


def _reset_two_factor(actor: Actor, user) -> bool:
    """A lost phone is recovered from the shell too: the account's second factor goes (audited on its profile).
    The ``accounts`` app sits above this one, so it is imported only when a reset needs it."""
    from accounts.twofactor import enabled_for, reset_two_factor

    if not enabled_for(user):
        return False
    reset_two_factor(actor=actor, user=user)
    return True
