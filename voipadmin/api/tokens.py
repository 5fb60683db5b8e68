"""The write path for API tokens: make one (key shown once), revoke one, check one."""
from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import datetime, timedelta
from typing import Any, Iterable

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext

from voipadmin import crud
from voipadmin.actors import Actor
from voipadmin.models import ApiToken
from voipadmin.scope import site_scope

KEY_PREFIX = "va_"
LAST_USED_GRANULARITY = timedelta(minutes=1)  # at most one write per token per minute


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_networks(value: str | Iterable[str] | None) -> list[str]:
    """``"127.0.0.1/32, ::1"`` → normalised CIDR strings, with a clear error for a bad one."""
    if value is None:
        return []
    items = value.replace("\n", ",").replace(" ", ",").split(",") if isinstance(value, str) else list(value)
    networks = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValidationError({"allowed_networks": gettext("%(network)s is not a network such as 127.0.0.0/8.")
                                   % {"network": repr(item)}}) from None
    return networks


def create_token(*, actor: Actor, name: str, scope: str = ApiToken.Scope.READ,
                 expires_at: datetime | None = None, allowed_networks: str | Iterable[str] | None = None,
                 sites: Iterable[Any] | None = None) -> tuple[ApiToken, str]:
    """Returns the token and its key; the key is never stored and cannot be shown again.

    ``sites`` limits the token like a site-limited account (voipadmin.scope). A site-limited account's token
    is always limited: to the sites given, which must be its own, or else to all of its own.
    """
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    creator = actor.user if getattr(actor.user, "pk", None) else None
    site_ids = {getattr(s, "pk", s) for s in sites or ()}
    own = site_scope(creator) if creator is not None else None
    if own is not None:
        if site_ids - own:
            raise ValidationError({"sites": gettext("A token can only be limited to sites you manage.")})
        site_ids = site_ids or set(own)
    fields = dict(name=(name or "").strip(), scope=scope, expires_at=expires_at,
                  allowed_networks=parse_networks(allowed_networks), prefix=key[:10], key_hash=hash_key(key),
                  created_by=creator, site_limited=bool(site_ids) or own is not None)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": gettext("The expiry must be in the future.")})
    token = crud.create(ApiToken, actor=actor, fields=fields,
                        related=(lambda t: t.sites.set(sorted(site_ids))) if site_ids else None)
    return token, key


def revoke_token(token: ApiToken, *, actor: Actor) -> ApiToken:
    if token.revoked_at is not None:
        return token
    return crud.update(token, actor=actor, fields={"revoked_at": timezone.now()}, message="revoked")


class TokenRefused(Exception):
    """The key is unknown, revoked, expired or used from a network it is not allowed from."""


def check_key(key: str, client_ip: str | None) -> ApiToken:
    """The live token behind ``key`` (one indexed query), recording its use at most once a minute."""
    token = ApiToken.objects.filter(key_hash=hash_key(key)).first()
    now = timezone.now()
    if token is None:
        raise TokenRefused(gettext("Invalid token."))
    if token.revoked_at is not None:
        raise TokenRefused(gettext("Token revoked."))
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused(gettext("Token expired."))
    if token.allowed_networks:
        try:
            ip = ipaddress.ip_address(client_ip or "")
        except ValueError:
            raise TokenRefused(gettext("Token not allowed from this address.")) from None
        if not any(ip in ipaddress.ip_network(n) for n in token.allowed_networks):
            raise TokenRefused(gettext("Token not allowed from this address."))
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=client_ip)
        token.last_used_at, token.last_used_ip = now, client_ip
    return token
