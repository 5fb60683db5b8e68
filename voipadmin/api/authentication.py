"""``Authorization: Token <key>`` for billing and integration systems."""
from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from voipadmin.models import ApiToken

from .tokens import TokenRefused, check_key

WRITE_APPS = ("sites", "push", "users", "trunks", "services", "media", "cdrs", "live", "voipadmin")


class TokenUser(AnonymousUser):
    """The principal behind a token: authenticated, no database row, permissions from the scope.

    A read token may view everything a Billing user may; a write token may do what an
    Administrator may. Actions see ``Actor(user=None, label="token:<name>")``.
    """

    def __init__(self, token: ApiToken):
        self.token = token

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    @property
    def is_anonymous(self) -> bool:  # type: ignore[override]
        return False

    def get_username(self) -> str:
        return f"token:{self.token.name}"

    def __str__(self) -> str:
        return self.get_username()

    @property
    def can_write(self) -> bool:
        return self.token.scope == ApiToken.Scope.WRITE

    def has_perm(self, perm: str, obj=None) -> bool:
        app_label, _, codename = perm.partition(".")
        if app_label not in WRITE_APPS or codename == "manage_apitoken":
            return False  # tokens never mint tokens
        return self.can_write or codename.startswith("view_")

    def has_perms(self, perm_list, obj=None) -> bool:
        return all(self.has_perm(p, obj) for p in perm_list)


def client_ip(request) -> str | None:
    """REMOTE_ADDR; a TLS proxy in front must pass the real address there (e.g. uwsgi/gunicorn config)."""
    return request.META.get("REMOTE_ADDR")


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(gettext("Invalid token header: use 'Authorization: Token <key>'."))
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(gettext("Invalid token.")) from None
        try:
            token = check_key(key, client_ip(request))
        except TokenRefused as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return TokenUser(token), token

    def authenticate_header(self, request) -> str:
        return self.keyword


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "voipadmin.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>` — make one with `manage.py create_api_token`."}
