"""Generic list/detail/edit/delete views every app's pages are declared with (NetBox-style).

A page class names its model, filterset, form and action; behaviour lives here once.
Writes always go through the app's actions (passed in as ``create_action`` etc.).
"""
from __future__ import annotations

from typing import Any, Callable

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.db.models import ProtectedError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.views.generic import TemplateView, View

from .actors import Actor
from .conflicts import conflict_message
from .models import ChangeLogEntry


class Column:
    """One column of a list table: a header and how to read the cell."""

    def __init__(self, header: str, accessor: str | Callable[[Any], Any], *, link: bool = False):
        self.header, self.accessor, self.link = header, accessor, link

    def value(self, obj: Any) -> Any:
        if callable(self.accessor):
            return self.accessor(obj)
        value: Any = obj
        for part in self.accessor.split("."):
            display = getattr(value, f"get_{part}_display", None)
            value = display() if display else getattr(value, part, None)
            if value is None:
                return ""
        return value() if callable(value) else value


def _perm(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


class PortalView(LoginRequiredMixin, PermissionRequiredMixin):
    """Pages need a login and a model permission; a logged-in user without it gets 403."""

    raise_exception = False
    model: Any = None
    perm_action = "view"

    def get_permission_required(self):
        return [_perm(self.model, self.perm_action)]

    def handle_no_permission(self):
        if self.request.user.is_authenticated:
            self.raise_exception = True
        return super().handle_no_permission()

    def actor(self) -> Actor:
        return Actor.from_request(self.request, source="ui")

    def url_name(self, suffix: str) -> str:
        return f"{self.model._meta.app_label}:{self.model._meta.model_name}_{suffix}"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs) if hasattr(super(), "get_context_data") else dict(kwargs)
        meta = self.model._meta
        user = self.request.user
        ctx.update(
            model_meta=meta,
            verbose_name=meta.verbose_name,
            verbose_name_plural=meta.verbose_name_plural,
            list_url=self._maybe_reverse("list"),
            can_add=user.has_perm(_perm(self.model, "add")),
            can_change=user.has_perm(_perm(self.model, "change")),
            can_delete=user.has_perm(_perm(self.model, "delete")),
            add_url=self._maybe_reverse("add"),
        )
        return ctx

    def _maybe_reverse(self, suffix: str, *args) -> str | None:
        try:
            return reverse(self.url_name(suffix), args=args)
        except NoReverseMatch:
            return None


def _label_any(form) -> None:
    """A yes/no filter left unset means "any", not Django's "Unknown"."""
    from django.forms import NullBooleanSelect

    for field in form.fields.values():
        if isinstance(field.widget, NullBooleanSelect):
            field.widget.choices = [("unknown", "Any"), ("true", "Yes"), ("false", "No")]


class ObjectListView(PortalView, TemplateView):
    template_name = "generic/object_list.html"
    filterset_class: Any = None
    columns: list[Column] = []
    paginate_by = 50

    def get_queryset(self):
        return self.model.objects.all()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        qs = self.get_queryset()
        filterset = self.filterset_class(self.request.GET or None, queryset=qs, request=self.request) \
            if self.filterset_class else None
        if filterset is not None:
            _label_any(filterset.form)
            qs = filterset.qs if filterset.is_bound and filterset.is_valid() else qs
        try:
            per_page = min(max(int(self.request.GET.get("per_page", self.paginate_by)), 1), 500)
        except ValueError:
            per_page = self.paginate_by
        page = Paginator(qs, per_page).get_page(self.request.GET.get("page"))
        rows = [(obj, [c.value(obj) for c in self.columns]) for obj in page.object_list]
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx.update(filterset=filterset, page_obj=page, rows=rows, columns=self.columns,
                   querystring=query.urlencode(), detail_url_name=self.url_name("detail"))
        return ctx


class ObjectDetailView(PortalView, TemplateView):
    template_name = "generic/object_detail.html"
    fields: list[Column] = []

    def get_queryset(self):
        return self.model.objects.all()

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        obj = self.object = self.get_object()
        ct = ContentType.objects.get_for_model(self.model)
        ctx.update(
            object=obj,
            properties=[(c.header, c.value(obj)) for c in self.fields],
            changelog=ChangeLogEntry.objects.filter(content_type=ct, object_id=str(obj.pk))
            .select_related("user")[:20],
            edit_url=self._maybe_reverse("edit", obj.pk),
            delete_url=self._maybe_reverse("delete", obj.pk),
        )
        return ctx


class ObjectEditView(PortalView, TemplateView):
    """Create (no pk) or edit (pk) through the app's actions."""

    template_name = "generic/object_edit.html"
    form_class: Any = None
    create_action: Callable[..., Any] | None = None
    update_action: Callable[..., Any] | None = None

    def get_permission_required(self):
        return [_perm(self.model, "change" if "pk" in self.kwargs else "add")]

    def get_object(self):
        if "pk" in self.kwargs:
            return get_object_or_404(self.model.objects.all(), pk=self.kwargs["pk"])
        return None

    def get_form(self, obj, data=None):
        return self.form_class(data, instance=obj)

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        return self.render_to_response(self.get_context_data(form=self.get_form(obj), object=obj))

    def post(self, request, *args, **kwargs):
        # The form validates its own copy: ModelForm validation writes into its instance, and the
        # action must see the stored object to diff it for the audit log and the notifier.
        obj = self.get_object()
        form = self.get_form(self.get_object(), request.POST)
        if form.is_valid():
            try:
                fields = form.action_fields()
                if obj is None:
                    obj = type(self).create_action(actor=self.actor(), **fields)
                    messages.success(request, f"Created {self.model._meta.verbose_name} {obj}.")
                else:
                    obj = type(self).update_action(obj, actor=self.actor(), **fields)
                    messages.success(request, f"Saved {self.model._meta.verbose_name} {obj}.")
                return self.after_save(obj)
            except ValidationError as exc:
                _add_errors(form, exc)
            except DatabaseError as exc:  # another change saved first: say so, keep what was typed
                message = conflict_message(exc)
                if message is None:
                    raise
                form.add_error(None, message)
                return self.render_to_response(self.get_context_data(form=form, object=obj), status=409)
        return self.render_to_response(self.get_context_data(form=form, object=obj), status=400)

    def after_save(self, obj):
        return HttpResponseRedirect(obj.get_absolute_url())


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class ObjectDeleteView(PortalView, TemplateView):
    template_name = "generic/object_delete.html"
    perm_action = "delete"
    delete_action: Callable[..., Any] | None = None

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["object"] = get_object_or_404(self.model.objects.all(), pk=self.kwargs["pk"])
        return ctx

    def post(self, request, *args, **kwargs):
        obj = get_object_or_404(self.model.objects.all(), pk=self.kwargs["pk"])
        try:
            type(self).delete_action(obj, actor=self.actor())
        except (ValidationError, ProtectedError) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else \
                f"{obj} is still in use by {len(exc.protected_objects)} other object(s)."
            messages.error(request, f"Cannot delete {obj}: {text}")
            return HttpResponseRedirect(obj.get_absolute_url())
        messages.success(request, f"Deleted {self.model._meta.verbose_name} {obj}.")
        return HttpResponseRedirect(reverse(self.url_name("list")))


class ActionFormMixin:
    """ModelForm helper: the cleaned fields an action takes (model fields only by default)."""

    def action_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.cleaned_data}


class ChangeLogListView(PortalView, TemplateView):
    model = ChangeLogEntry
    template_name = "voipadmin/changelog_list.html"

    def get_context_data(self, **kwargs):
        from .filtersets import ChangeLogFilterSet

        ctx = super().get_context_data(**kwargs)
        qs = ChangeLogEntry.objects.select_related("content_type", "user")
        filterset = ChangeLogFilterSet(self.request.GET or None, queryset=qs)
        if filterset.is_bound and filterset.is_valid():
            qs = filterset.qs
        page = Paginator(qs, 50).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx.update(filterset=filterset, page_obj=page, querystring=query.urlencode(), add_url=None)
        return ctx


class ChangeLogDetailView(PortalView, TemplateView):
    model = ChangeLogEntry
    template_name = "voipadmin/changelog_detail.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["entry"] = get_object_or_404(ChangeLogEntry.objects.select_related("content_type", "user"),
                                         pk=self.kwargs["pk"])
        ctx["add_url"] = None
        return ctx


class HomeView(LoginRequiredMixin, View):
    """Helpdesk staff land on user search; everybody else on the dashboard."""

    def get(self, request):
        if request.user.has_perm("sites.view_site"):
            return HttpResponseRedirect(reverse("dashboard"))
        return HttpResponseRedirect(reverse("users:sipuser_list"))


def crud_urls(prefix: str, name: str, list_view, detail_view, edit_view, delete_view) -> list:
    """The five URLs every managed object has: list, add, detail, edit, delete."""
    from django.urls import path

    return [
        path(f"{prefix}/", list_view.as_view(), name=f"{name}_list"),
        path(f"{prefix}/add/", edit_view.as_view(), name=f"{name}_add"),
        path(f"{prefix}/<int:pk>/", detail_view.as_view(), name=f"{name}_detail"),
        path(f"{prefix}/<int:pk>/edit/", edit_view.as_view(), name=f"{name}_edit"),
        path(f"{prefix}/<int:pk>/delete/", delete_view.as_view(), name=f"{name}_delete"),
    ]
