"""Who may call what: model permissions for sessions, the scope for tokens."""
from __future__ import annotations

from rest_framework import permissions

from voipadmin.roles import has_api_role

from .authentication import TokenUser

METHOD_PERMS = {
    "GET": "view", "HEAD": "view", "OPTIONS": "view",
    "POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete",
}


class EstatePermission(permissions.BasePermission):
    """Read tokens only read; everything else needs the model permission the method implies.

    A viewset action may name its own permissions with ``required_perms`` (e.g. the helpdesk's
    voicemail PIN reset needs ``users.reset_voicemail_pin`` and nothing else).
    """

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if isinstance(user, TokenUser) and not user.can_write and request.method not in permissions.SAFE_METHODS:
            return False
        if not isinstance(user, TokenUser) and not has_api_role(user) and not _explicit(view):
            # The helpdesk's browser session reaches only the endpoints made for it (the voicemail PIN reset),
            # not the whole users API: a token is how a system is given more (issue 12).
            return False
        return user.has_perms(self.required_perms(request, view))

    @staticmethod
    def required_perms(request, view) -> list[str]:
        action, handler = _handler(view)
        explicit = getattr(handler, "required_perms", None) or (getattr(view, "required_perms", None)
                                                                if action is None else None)
        if explicit:
            return list(explicit)
        queryset = getattr(view, "queryset", None)  # the class attribute: get_queryset() may run queries
        model = (queryset if queryset is not None else view.get_queryset()).model
        verb = METHOD_PERMS.get(request.method, "change")
        if hasattr(view, "action_map") and action is None:
            verb = "view"  # a method this endpoint lacks: whoever may see it gets 405, others 403
        if handler is not None and getattr(handler, "mapping", None) and request.method not in permissions.SAFE_METHODS:
            verb = "change"  # a custom POST action changes the object it is called on
        return [f"{model._meta.app_label}.{verb}_{model._meta.model_name}"]


def _handler(view):
    """The viewset action being called and its method (None, None outside a viewset's action)."""
    action = getattr(view, "action", None)
    return action, getattr(view, action, None) if action else None


def _explicit(view) -> bool:
    """Whether the endpoint names its own permissions (``required_perms``): made for a narrower role."""
    return bool(getattr(_handler(view)[1], "required_perms", None))


class ApiRole(permissions.BasePermission):
    """The API's index (``/api/v1/``), schema and docs: any token, and accounts with an API role
    (``voipadmin.roles.API_ROLES``); a Helpdesk or role-less account gets 403."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return isinstance(user, TokenUser) or has_api_role(user)


def required_perms(*perms: str):
    """Decorate a viewset action (below ``@action``) with the exact permissions it needs."""
    def wrap(func):
        func.required_perms = perms
        return func
    return wrap
