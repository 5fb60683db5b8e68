"""The base every app's API viewset is declared with (NetBox-style: three-line viewsets).

Writes never touch models here: create/update/destroy call the app's actions with an API
actor, so the audit log and the pushes to the live estate happen exactly as from the UI.
"""
from __future__ import annotations

from typing import Any, Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404
from django.utils.translation import gettext, gettext_lazy as _
import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, filters, pagination, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import SAFE_METHODS

from voipadmin import scope
from voipadmin.actors import Actor
from voipadmin.numbers import parse_int

from .authentication import TokenAuthentication, TokenUser
from .permissions import EstatePermission


BOOLEANS = {"true": "true", "1": "true", "false": "false", "0": "false"}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The object is still in use.")
    default_code = "conflict"


def call_action(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run an action, turning its model errors into 400/409 answers (never a 500)."""
    try:
        return func(*args, **kwargs)
    except DjangoValidationError as exc:
        if not hasattr(exc, "error_dict") and all(e.code == "protected" for e in exc.error_list):
            raise Conflict(" ".join(exc.messages)) from None  # still in use: a 409, like a PROTECT foreign key
        if hasattr(exc, "error_dict"):
            detail = {("non_field_errors" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
        else:
            detail = {"non_field_errors": exc.messages}
        raise serializers.ValidationError(detail) from None
    except ProtectedError as exc:
        raise Conflict(gettext("Still used by %(count)d other object(s).") % {"count": len(exc.protected_objects)}) \
            from None


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
                {self.ordering_param: gettext("Cannot order by %(fields)s; choose from %(allowed)s.") % {
                    "fields": ", ".join(bad), "allowed": ", ".join(sorted(allowed))}})
        return terms

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """The allow-list, as OpenAPI says a comma-separated list (``?ordering=-created,name``)."""
        fields = sorted(getattr(view, "ordering_fields", None) or [])
        if not fields:
            return []
        return [{
            "name": self.ordering_param, "required": False, "in": "query",
            "style": "form", "explode": False,
            "description": "Sort by these fields, in this order; a leading '-' sorts that field descending.",
            "schema": {"type": "array", "items": {"type": "string", "enum": [*fields, *(f"-{f}" for f in fields)]}},
        }]

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if ordering:
            if not {"pk", "-pk", "id", "-id"} & set(ordering):
                ordering = [*ordering, "pk"]  # a stable order, so pages never repeat or skip rows
            return queryset.order_by(*ordering)
        return queryset


class EstateFilterBackend(DjangoFilterBackend):
    """django-filter, answering every query the schema allows: a malformed filter is a 400 naming it, an
    unknown object an empty list (``unknown_objects``), a far-off time a bound (the forms of
    ``voipadmin.filtersets.EstateFilterSet`` bring times to UTC, inside the calendar)."""

    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        kwargs["data"] = self._strict_booleans(kwargs["data"], self.get_filterset_class(view, queryset))
        return kwargs

    @staticmethod
    def _strict_booleans(data, filterset_class):
        """A yes/no filter takes true/false (or 1/0), nothing else: the UI's select quietly reads any
        other value as "any", which would hand an API client every row it did not ask for."""
        names = [name for name, f in filterset_class.base_filters.items()
                 if isinstance(f, django_filters.BooleanFilter) and name in data]
        if not names:
            return data
        data = data.copy()
        for name in names:
            value = BOOLEANS.get(data[name].lower()) if data[name] != "" else ""
            if value is None:
                raise exceptions.ValidationError({name: gettext("Give true or false.")})
            data[name] = value
        return data

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            unknown = unknown_objects(filterset)
            errors = {name: messages for name, messages in filterset.errors.items() if name not in unknown}
            if errors:
                raise exceptions.ValidationError(errors)
            return queryset.none()
        return filterset.qs


def unknown_objects(filterset) -> set[str]:
    """The filters naming an object that does not exist (``?site=5000``): their answer is an empty list.

    A filter is a question — "the users of site 5000" — and, as in NetBox, a well-formed id of nothing
    has the plain answer "none"; a client paging through a site deleted meanwhile gets an empty page,
    not an error it would have to tell apart from its own bugs. An id of the wrong shape (``?site=abc``
    where the schema says integer) is still a 400: that request is wrong whatever the estate holds.
    """
    errors = filterset.form.errors.as_data()
    unknown = set()
    for name, found in errors.items():
        flt = filterset.filters.get(name)
        if not isinstance(flt, django_filters.ModelChoiceFilter) or any(e.code != "invalid_choice" for e in found):
            continue
        field = flt.field
        model = field.queryset.model
        target = model._meta.get_field(field.to_field_name) if field.to_field_name else model._meta.pk
        try:
            target.to_python(filterset.form.data.get(name))
        except DjangoValidationError:
            continue
        unknown.add(name)
    return unknown


class EstateContentNegotiation(DefaultContentNegotiation):
    """``?format=`` naming a format this endpoint does not give is a 400 that names the ones it does (DRF
    answers 404, which reads as "no such object")."""

    def filter_renderers(self, renderers, format):
        try:
            return super().filter_renderers(renderers, format)
        except Http404:
            formats = " or ".join(sorted({r.format for r in renderers}))
            raise exceptions.ValidationError({"format": [gettext("Choose %(formats)s.") % {"formats": formats}]}) \
                from None


class EstatePagination(pagination.PageNumberPagination):
    """Numbered pages; ``?per_page=`` from 1 to ``max_page_size``, anything else a 400 (DRF would quietly
    answer a page of another size than the one asked for)."""

    page_size = 50
    page_size_query_param = "per_page"
    max_page_size = 500

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:
            return self.page_size
        try:
            return parse_int(raw, what=gettext("The page size"), minimum=1, maximum=self.max_page_size)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({self.page_size_query_param: exc.messages}) from None

    def get_schema_operation_parameters(self, view) -> list[dict]:
        bounds = {self.page_query_param: {"minimum": 1},
                  self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size}}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


def restrict_related_fields(serializer, user) -> None:
    """The objects a body may name (a user's site, a trunk's node) are only those the caller may see."""
    fields = getattr(serializer, "child", serializer).fields
    for field in fields.values():
        relation = getattr(field, "child_relation", field)
        queryset = getattr(relation, "queryset", None)
        if queryset is not None and not relation.read_only:
            relation.queryset = scope.restrict(queryset, user, scope.VIEW)


class ApiActorMixin:
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [EstatePermission]
    filter_backends = [EstateFilterBackend, StrictOrderingFilter]
    pagination_class = EstatePagination
    content_negotiation_class = EstateContentNegotiation
    ordering_fields: list[str] = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # PostgreSQL text cannot hold NUL: refuse it at the door (400) instead of failing in a query (500).
        if any("\x00" in k or "\x00" in v for k, values in request.query_params.lists() for v in values):
            raise exceptions.ValidationError({"detail": gettext("NUL characters are not allowed in the query.")})
        if request.method not in ("GET", "HEAD", "OPTIONS") and _has_nul(request.data):
            raise exceptions.ValidationError({"detail": gettext("NUL characters are not allowed in the body.")})

    def filter_queryset(self, queryset):
        """Every row the API lists, shows or changes is first narrowed to the caller's sites (voipadmin.scope);
        another site's object is a 404, as if it did not exist."""
        action = {"DELETE": scope.DELETE}.get(self.request.method,
                                             scope.VIEW if self.request.method in SAFE_METHODS else scope.CHANGE)
        return super().filter_queryset(scope.restrict(queryset, self.request.user, action))

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        if scope.site_scope(self.request.user) is not None:
            restrict_related_fields(serializer, self.request.user)
        return serializer

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
        try:
            call_action(type(self).delete_action, instance, actor=self.actor())
        except serializers.ValidationError as exc:
            # a DELETE refused because of what still depends on the object (a site's nodes, a set's service
            # codes) is the object's state, not a bad request: 409, like a PROTECT foreign key
            detail = exc.detail.get("non_field_errors", exc.detail) if isinstance(exc.detail, dict) else exc.detail
            raise Conflict(" ".join(str(m) for m in detail)) from None
