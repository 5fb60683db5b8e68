"""Generic list/detail/edit/delete views every app's pages are declared with (NetBox-style).

A page class names its model, filterset, form and action; behaviour lives here once.
Writes always go through the app's actions (passed in as ``create_action`` etc.).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Callable, Sequence

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.db.models import ProtectedError
from django.forms.models import ModelChoiceField, ModelChoiceIterator
from django_filters import fields as filter_fields
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, pgettext
from django.views.generic import TemplateView, View

from . import scope
from .actors import Actor
from .audit_display import describe
from .conflicts import conflict_message
from .models import ChangeLogEntry


class Column:
    """One column of a list table: a header, how to read the cell and, optionally, how to sort by it.

    ``order_by`` whitelists sorting: the ORM path(s) the list is ordered by when the header is clicked
    (``True``: the accessor itself, dots read as ``__``). Its first path is the key in ``?sort=key`` /
    ``?sort=-key``; a column without it is not sortable, and an unknown key is ignored.
    """

    def __init__(self, header: str, accessor: str | Callable[[Any], Any], *, link: bool = False,
                 order_by: bool | str | Sequence[str] | None = None):
        self.header, self.accessor, self.link = header, accessor, link
        self._path = tuple(accessor.split(".")) if isinstance(accessor, str) else ()
        if order_by is True:
            if not isinstance(accessor, str):
                raise TypeError(f"column {header!r}: order_by=True needs a field accessor")
            order_by = accessor.replace(".", "__")
        self.order_by: tuple[str, ...] = (order_by,) if isinstance(order_by, str) else tuple(order_by or ())

    @property
    def sort_key(self) -> str | None:
        return self.order_by[0] if self.order_by else None

    def value(self, obj: Any) -> Any:
        if callable(self.accessor):
            return self.accessor(obj)
        value: Any = obj
        for part in self._path:
            display = _display_method(type(value), part)
            value = getattr(value, display)() if display else getattr(value, part, None)
            if value is None:
                return ""
        return value() if callable(value) else value


@lru_cache(maxsize=1024)
def _display_method(cls: type, part: str) -> str | None:
    """``get_<part>_display`` when ``cls`` has it (a field with choices): asked once per class, not per cell (a
    list page reads 400 cells, and a missing attribute costs an exception each time)."""
    name = f"get_{part}_display"
    return name if callable(getattr(cls, name, None)) else None


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

    def restrict(self, queryset, action: str = scope.VIEW):
        """Every row a page shows or changes comes through here (voipadmin.scope: site-limited accounts)."""
        return scope.restrict(queryset, self.request.user, action)

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
            field.widget.choices = [("unknown", pgettext("yes/no filter", "Any")), ("true", gettext("Yes")),
                                    ("false", gettext("No"))]


class ListedChoiceIterator(filter_fields.ModelChoiceIterator):
    """A filter's object choices (sites, nodes: a handful of rows) read with one plain query: Django's own
    iterator reads them through a server-side cursor on PostgreSQL (DECLARE, FETCH, CLOSE: three round trips and
    a materialised cursor, meant for tables too big to hold) on every list page. The choices are the same, in
    the same order: the empty one, django-filter's "null" one when the filter has it, then the queryset's."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if getattr(self.field, "null_label", None) is not None:
            yield (self.field.null_value, self.field.null_label)
        for obj in self.queryset:
            yield self.choice(obj)

    def __len__(self):
        return super().__len__() if getattr(self.field, "null_label", None) is not None else \
            ModelChoiceIterator.__len__(self)


def _listed_choices(form) -> None:
    for field in form.fields.values():  # (a field with an iterator of its own keeps it)
        if isinstance(field, ModelChoiceField) and field.iterator in (ModelChoiceIterator,
                                                                      filter_fields.ModelChoiceIterator):
            field.iterator = ListedChoiceIterator
            field.widget.choices = field.choices  # (what setting the queryset does, with this iterator)


#: the page sizes a list offers (any size from 1 to MAX_PAGE_SIZE is accepted in the query string)
PAGE_SIZES = (25, 50, 100, 250)
MAX_PAGE_SIZE = 500


@dataclass
class BulkAction:
    """Something a list can do to the selected rows (``BulkView`` shows what will change, then does it).

    ``plan(objs, **params)`` returns one ``crud.Planned`` per object (before → after, or why it is refused);
    ``apply(objs, actor=..., **params)`` is the app's all-or-nothing action. ``form``: the parameters asked
    for on the confirmation page (e.g. the target site).
    """

    name: str
    label: str
    perm_action: str
    plan: Callable[..., list]
    apply: Callable[..., Any]
    icon: str = ""
    style: str = "outline-secondary"
    form: Any = None
    done: str = "Done"
    verb: str = ""  # the confirm button's verb when the label does not read as one ("Move to site…": "Move")


class ObjectListView(PortalView, TemplateView):
    template_name = "generic/object_list.html"
    filterset_class: Any = None
    columns: list[Column] = []
    paginate_by = 50
    #: set by pages whose model has bulk operations (the view's ``bulk_url_name`` takes the action's name)
    bulk_actions: list[BulkAction] = []
    bulk_url_name: str | None = None

    def get_queryset(self):
        return self.model.objects.all()

    def with_columns(self, queryset):
        """The page's rows with what only the columns read (a related name as an annotation). Kept out of
        ``get_queryset`` so that the paginator's count does not pay for it: Django keeps an annotation's join in
        the COUNT, and PostgreSQL would join every matching row to count them, not only the page's 50."""
        return queryset

    def sort(self) -> tuple[Column | None, bool]:
        """The column ``?sort=`` names (whitelisted: only columns with ``order_by``) and whether descending."""
        raw = self.request.GET.get("sort", "")
        descending = raw.startswith("-")
        key = raw[1:] if descending else raw
        for column in self.columns:
            if key and column.sort_key == key:
                return column, descending
        return None, False

    def per_page(self) -> int:
        try:
            return min(max(int(self.request.GET.get("per_page", self.paginate_by)), 1), MAX_PAGE_SIZE)
        except (TypeError, ValueError):
            return self.paginate_by

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        qs = self.restrict(self.get_queryset())
        filterset = self.filterset_class(self.request.GET or None, queryset=qs, request=self.request) \
            if self.filterset_class else None
        if filterset is not None:
            scope.restrict_choices(filterset.form, self.request.user)
            _label_any(filterset.form)
            _listed_choices(filterset.form)
            qs = filterset.qs if filterset.is_bound and filterset.is_valid() else qs
        column, descending = self.sort()
        if column is not None:  # the pk breaks ties: equal names never swap places between pages
            qs = qs.order_by(*[f"-{f}" if descending else f for f in column.order_by], "pk")
        per_page = self.per_page()
        page = _ListPaginator(self.with_columns(qs), per_page, counted=qs).get_page(self.request.GET.get("page"))
        rows = [(obj, [c.value(obj) for c in self.columns]) for obj in page.object_list]
        query = self.request.GET.copy()
        query.pop("page", None)
        user = self.request.user
        bulk = [a for a in self.bulk_actions if user.has_perm(_perm(self.model, a.perm_action))]
        ctx.update(filterset=filterset, page_obj=page, rows=rows, columns=self.columns,
                   querystring=query.urlencode(), detail_url_name=self.url_name("detail"),
                   headers=self._headers(column, descending), sort=self.request.GET.get("sort", "") if column else "",
                   per_page=per_page, page_sizes=_page_sizes(per_page), size_query=_without(query, "per_page"),
                   bulk_actions=[(a, reverse(self.bulk_url_name, args=[a.name])) for a in bulk],
                   selectable=bool(bulk), next_url=self.request.get_full_path())
        return ctx

    def _headers(self, current: Column | None, descending: bool) -> list[dict[str, Any]]:
        """Each header's label and, when sortable, the link that sorts by it (again: the other way)."""
        base = _without(self.request.GET.copy(), "sort", "page")
        headers = []
        for column in self.columns:
            header: dict[str, Any] = {"label": column.header, "url": None, "dir": None}
            if column.sort_key:
                active = column is current
                header["dir"] = ("desc" if descending else "asc") if active else None
                key = f"-{column.sort_key}" if active and not descending else column.sort_key
                header["url"] = "?" + "&".join(p for p in (base, f"sort={key}") if p)
            headers.append(header)
        return headers


class _ListPaginator(Paginator):
    """Pages through the rows with their columns' joins, counts the rows without them (``with_columns``)."""

    def __init__(self, object_list, per_page, *, counted):
        super().__init__(object_list, per_page)
        self._counted = counted

    @cached_property
    def count(self) -> int:
        return self._counted.count()


def _without(query, *names: str) -> str:
    query = query.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _page_sizes(current: int) -> list[int]:
    return sorted(set(PAGE_SIZES) | {current})


class BulkView(PortalView, TemplateView):
    """Selected rows of a list → a confirmation page listing each object and what changes (or why it is
    refused) → the POST that does it, all or nothing, through the app's action.

    Every step is a POST of the selection (``pk`` values): nothing is written before ``confirm``, and the
    plan is computed again on the confirming request (the action re-checks it under lock).
    """

    template_name = "generic/bulk_confirm.html"
    bulk_actions: list[BulkAction] = []

    def action(self) -> BulkAction:
        for action in self.bulk_actions:
            if action.name == self.kwargs["action"]:
                return action
        raise Http404(gettext("No such bulk action."))

    def get_permission_required(self):
        return [_perm(self.model, self.action().perm_action)]

    def get_queryset(self):
        return self.model.objects.all()

    def list_url(self) -> str:
        nxt = self.request.POST.get("next", "")
        if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={self.request.get_host()}):
            return nxt
        return reverse(self.url_name("list"))

    def get(self, request, *args, **kwargs):
        self.action()
        return HttpResponseRedirect(reverse(self.url_name("list")))

    def post(self, request, *args, **kwargs):
        action = self.action()
        pks = sorted({int(v) for v in request.POST.getlist("pk") if v.isascii() and v.isdigit() and len(v) < 12})
        objs = list(self.restrict(self.get_queryset(), action.perm_action).filter(pk__in=pks).order_by("pk")) \
            if pks else []
        if not objs:
            messages.error(request, gettext("Select at least one row first."))
            return HttpResponseRedirect(self.list_url())
        form = scope.restrict_choices(action.form(request.POST if "params" in request.POST else None),
                                      request.user) if action.form else None
        params = form.cleaned_data if form is not None and form.is_valid() else {}
        ready = form is None or form.is_bound and not form.errors
        plan = action.plan(objs, **params) if ready else []
        status = 200
        if ready and "confirm" in request.POST and not any(p.refused for p in plan):
            try:
                action.apply(objs, actor=self.actor(), **params)
            except ValidationError as exc:
                messages.error(request, gettext("Nothing was changed: %(reasons)s") % {"reasons": " ".join(exc.messages)})
                status = 400
            else:
                messages.success(request, gettext("%(done)s: %(count)d %(objects)s.") % {
                    "done": action.done, "count": len(objs), "objects": self._name(len(objs))})
                return HttpResponseRedirect(self.list_url())
        elif "confirm" in request.POST:
            status = 400
        refused = [p for p in plan if p.refused]
        return self.render_to_response(self.get_context_data(
            action=action, objects=objs, form=form, ready=ready, plan=plan, refused=refused,
            next_url=self.list_url()), status=status)

    def _name(self, count: int) -> str:
        meta = self.model._meta
        return str(meta.verbose_name if count == 1 else meta.verbose_name_plural)


class ObjectDetailView(PortalView, TemplateView):
    template_name = "generic/object_detail.html"
    fields: list[Column] = []

    def get_queryset(self):
        return self.model.objects.all()

    def get_object(self):
        return get_object_or_404(self.restrict(self.get_queryset()), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        obj = self.object = self.get_object()
        ct = ContentType.objects.get_for_model(self.model)
        ctx.update(
            object=obj,
            properties=[(c.header, c.value(obj)) for c in self.fields],
            changelog=describe(ChangeLogEntry.objects.filter(content_type=ct, object_id=str(obj.pk))
                               .select_related("user", "content_type")[:20]),  # (foreign keys by name)
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
            return get_object_or_404(self.restrict(self.model.objects.all(), scope.CHANGE), pk=self.kwargs["pk"])
        return None

    def get_form(self, obj, data=None):
        return scope.restrict_choices(self.form_class(data, instance=obj), self.request.user)

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
                    messages.success(request, gettext("Created %(type)s %(object)s.") % {
                        "type": self.model._meta.verbose_name, "object": obj})
                else:
                    obj = type(self).update_action(obj, actor=self.actor(), **fields)
                    messages.success(request, gettext("Saved %(type)s %(object)s.") % {
                        "type": self.model._meta.verbose_name, "object": obj})
                return self.after_save(obj)
            except ValidationError as exc:
                add_errors(form, exc)
            except DatabaseError as exc:  # another change saved first: say so, keep what was typed
                message = conflict_message(exc)
                if message is None:
                    raise
                form.add_error(None, message)
                return self.render_to_response(self.get_context_data(form=form, object=obj), status=409)
        return self.render_to_response(self.get_context_data(form=form, object=obj), status=400)

    def after_save(self, obj):
        return HttpResponseRedirect(obj.get_absolute_url())


def add_errors(form, exc: ValidationError) -> None:
    """An action's ValidationError onto the form that asked for it: each field's own, the rest at the top."""
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
        ctx["object"] = get_object_or_404(self.restrict(self.model.objects.all(), scope.DELETE), pk=self.kwargs["pk"])
        return ctx

    def post(self, request, *args, **kwargs):
        obj = get_object_or_404(self.restrict(self.model.objects.all(), scope.DELETE), pk=self.kwargs["pk"])
        try:
            type(self).delete_action(obj, actor=self.actor())
        except (ValidationError, ProtectedError) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else \
                gettext("%(object)s is still in use by %(count)d other object(s).") % {
                    "object": obj, "count": len(exc.protected_objects)}
            messages.error(request, gettext("Cannot delete %(object)s: %(reason)s") % {"object": obj, "reason": text})
            return HttpResponseRedirect(obj.get_absolute_url())
        messages.success(request, gettext("Deleted %(type)s %(object)s.") % {
            "type": self.model._meta.verbose_name, "object": obj})
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
        page.object_list = describe(page.object_list)  # objects and foreign keys by name: queries per kind, not row
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx.update(filterset=filterset, page_obj=page, querystring=query.urlencode(), add_url=None,
                   history_of=self.history_of(filterset, page.object_list))
        return ctx

    @staticmethod
    def history_of(filterset, entries) -> ChangeLogEntry | None:
        """The newest entry when the log is filtered to one object (an object page's "history" link): the
        page names the object by it."""
        data = filterset.form.cleaned_data if filterset.is_bound and filterset.is_valid() else {}
        return entries[0] if data.get("object_type") and data.get("object_id") and entries else None


class ChangeLogDetailView(PortalView, TemplateView):
    model = ChangeLogEntry
    template_name = "voipadmin/changelog_detail.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["entry"] = get_object_or_404(ChangeLogEntry.objects.select_related("content_type", "user"),
                                         pk=self.kwargs["pk"])
        describe([ctx["entry"]])
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
