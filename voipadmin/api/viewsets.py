"""The base every app's API viewset is declared with (NetBox-style: three-line viewsets).

Writes never touch models here: create/update/destroy call the app's actions with an API
actor, so the audit log and the pushes to the live estate happen exactly as from the UI.
"""
from __future__ import annotations

from typing import Any, Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, filters, pagination, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication

from voipadmin.actors import Actor

from .authentication import TokenAuthentication, TokenUser
from .permissions import EstatePermission


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is still in use."
    default_code = "conflict"


def call_action(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run an action, turning its model errors into 400/409 answers (never a 500)."""
    try:
        return func(*args, **kwargs)
    except DjangoValidationError as exc:
        if hasattr(exc, "error_dict"):
            detail = {("non_field_errors" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
        else:
            detail = {"non_field_errors": exc.messages}
        raise serializers.ValidationError(detail) from None
    except ProtectedError as exc:
        raise Conflict(f"Still used by {len(exc.protected_objects)} other object(s).") from None


def _has_nul(data: Any) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in data.items())
    if hasattr(data, "lists"):  # QueryDict from a form body
        return any(_has_nul(k) or any(_has_nul(v) for v in values) for k, values in data.lists())
    if isinstance(data, (list, tuple)):
        return any(_has_nul(v) for v in data)
    return False


class StrictOrderingFilter(filters.OrderingFilter):
    """``?ordering=`` from the viewset's allow-list only; anything else is a 400, never SQL."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if not params:
            return self.get_default_ordering(view)
        terms = [t.strip() for t in params.split(",") if t.strip()]
        allowed = {name for name, _label in self.get_valid_fields(queryset, view, {"request": request})}
        bad = [t for t in terms if t.lstrip("-") not in allowed]
        if bad:
            raise exceptions.ValidationError(
                {self.ordering_param: f"Cannot order by {', '.join(bad)}; choose from {', '.join(sorted(allowed))}."})
        return terms

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if ordering:
            if not {"pk", "-pk", "id", "-id"} & set(ordering):
                ordering = [*ordering, "pk"]  # a stable order, so pages never repeat or skip rows
            return queryset.order_by(*ordering)
        return queryset


class EstateFilterBackend(DjangoFilterBackend):
    """django-filter, with invalid filters answered as 400 (the forms of voipadmin.filtersets.EstateFilterSet
    also bring times to UTC and refuse far-off years)."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        return filterset.qs


class EstatePagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "per_page"
    max_page_size = 500


class ApiActorMixin:
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [EstatePermission]
    filter_backends = [EstateFilterBackend, StrictOrderingFilter]
    pagination_class = EstatePagination
    ordering_fields: list[str] = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # PostgreSQL text cannot hold NUL: refuse it at the door (400) instead of failing in a query (500).
        if any("\x00" in k or "\x00" in v for k, values in request.query_params.lists() for v in values):
            raise exceptions.ValidationError({"detail": "NUL characters are not allowed in the query."})
        if request.method not in ("GET", "HEAD", "OPTIONS") and _has_nul(request.data):
            raise exceptions.ValidationError({"detail": "NUL characters are not allowed in the body."})

    def actor(self) -> Actor:
        user = self.request.user
        if isinstance(user, TokenUser):
            return Actor(user=None, label=f"token:{user.token.name}", source="api")
        return Actor.from_request(self.request, source="api")


class EstateReadOnlyViewSet(ApiActorMixin, viewsets.ReadOnlyModelViewSet):
    pass


class EstateViewSet(ApiActorMixin, viewsets.ModelViewSet):
    """CRUD through ``create_action`` / ``update_action`` / ``delete_action`` (the app's actions).

    ``PATCH`` passes only the fields sent; ``PUT`` passes all of them; both update the object
    in place (same primary key), never delete and re-create it.
    """

    create_action: Callable[..., Any] | None = None
    update_action: Callable[..., Any] | None = None
    delete_action: Callable[..., Any] | None = None

    def action_kwargs(self, serializer) -> dict[str, Any]:
        hook = getattr(serializer, "action_kwargs", None)
        return hook(dict(serializer.validated_data)) if hook else dict(serializer.validated_data)

    def perform_create(self, serializer):
        serializer.instance = call_action(type(self).create_action, actor=self.actor(),
                                          **self.action_kwargs(serializer))

    def perform_update(self, serializer):
        serializer.instance = call_action(type(self).update_action, serializer.instance, actor=self.actor(),
                                          **self.action_kwargs(serializer))

    def perform_destroy(self, instance):
        call_action(type(self).delete_action, instance, actor=self.actor())
