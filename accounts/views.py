"""Portal accounts in the portal: the list, an account's page, create/edit, disable/enable, a new password — for
estate administrators (``auth.*_user``: site-limited accounts lose those, accounts/backends.py) — and "My account"
for every signed-in account. Writes go through ``accounts.actions``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from voipadmin.actors import Actor
from voipadmin.roles import ROLES
from voipadmin.views import Column, ObjectDetailView, ObjectListView, PortalView, add_errors

from . import actions
from .filtersets import AccountFilterSet
from .forms import ROLE_LABELS, AccountForm, PreferencesForm

User = get_user_model()
SHOWN_ONCE = "accounts:shown-once:{pk}"


def account_url(user) -> str:
    return reverse("accounts:user_detail", args=[user.pk])


def accounts():
    """Accounts with what their pages show, in a fixed number of queries however many there are."""
    return (User.objects.select_related("profile")
            .prefetch_related(Prefetch("groups", queryset=Group.objects.filter(name__in=ROLES)),
                              "profile__sites"))


# --- what a page says about an account ----------------------------------------------------------------------------


def _role(user) -> str:
    role = actions.role_of(user)
    return str(ROLE_LABELS[role]) if role else _("No role")


def _sites(user) -> str:
    profile = actions.profile_of(user)
    if profile is None or not profile.site_limited:
        return _("Whole estate")
    return ", ".join(sorted(s.name for s in profile.sites.all()))


def _language(user) -> str:
    profile = actions.profile_of(user)
    return profile.get_language_display() if profile and profile.language else _("Browser's")


def _time_zone(user) -> str:
    profile = actions.profile_of(user)
    return profile.time_zone if profile and profile.time_zone else _("Site's or portal's")


def _two_factor(user) -> bool:
    profile = actions.profile_of(user)
    return bool(profile and profile.two_factor_enabled)


def _moment(value) -> str:
    return date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else "—"


@dataclass
class _Linked:
    """A list row's account with the address of its page (``auth.User`` has no ``get_absolute_url``)."""

    user: Any

    @property
    def pk(self):
        return self.user.pk

    def __str__(self) -> str:
        return str(self.user)

    def get_absolute_url(self) -> str:
        return account_url(self.user)


class AccountMixin:
    """An account page: ``auth.User``'s permissions, this app's URL names, "account(s)" in headings."""

    model = User

    def url_name(self, suffix: str) -> str:
        return f"accounts:user_{suffix}"

    def get_queryset(self):
        return accounts()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(verbose_name=gettext_lazy("account"), verbose_name_plural=gettext_lazy("accounts"))
        return ctx


# --- estate administrators' pages ---------------------------------------------------------------------------------


class AccountListView(AccountMixin, ObjectListView):
    filterset_class = AccountFilterSet
    columns = [Column(gettext_lazy("Username"), "username", link=True, order_by=True),
               Column(gettext_lazy("Name"), lambda u: u.get_full_name(), order_by=("first_name", "last_name")),
               Column(gettext_lazy("Role"), _role), Column(gettext_lazy("Sites"), _sites),
               Column(gettext_lazy("Language"), _language), Column(gettext_lazy("Two-factor"), _two_factor),
               Column(gettext_lazy("Last login"), "last_login", order_by=True),
               Column(gettext_lazy("Active"), "is_active", order_by=True)]

    def get_queryset(self):
        return accounts().order_by("username")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["rows"] = [(_Linked(obj), cells) for obj, cells in ctx["rows"]]
        return ctx


class AccountDetailView(AccountMixin, ObjectDetailView):
    template_name = "accounts/user_detail.html"
    fields = [Column(gettext_lazy("Username"), "username"), Column(gettext_lazy("Name"), lambda u: u.get_full_name()),
              Column(gettext_lazy("E-mail"), "email"), Column(gettext_lazy("Role"), _role),
              Column(gettext_lazy("Sites"), _sites), Column(gettext_lazy("Language"), _language),
              Column(gettext_lazy("Time zone"), _time_zone), Column(gettext_lazy("Two-factor"), _two_factor),
              Column(gettext_lazy("Active"), "is_active"),
              Column(gettext_lazy("Django admin"), lambda u: u.is_staff),
              Column(gettext_lazy("Superuser"), "is_superuser"),
              Column(gettext_lazy("Last login"), lambda u: _moment(u.last_login)),
              Column(gettext_lazy("Joined"), lambda u: _moment(u.date_joined))]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        pk = self.object.pk
        ctx.update(shown_once=self.request.session.pop(SHOWN_ONCE.format(pk=pk), None),
                   list_url=reverse("accounts:user_list"),
                   disable_url=reverse("accounts:user_disable", args=[pk]),
                   enable_url=reverse("accounts:user_enable", args=[pk]),
                   reset_password_url=reverse("accounts:user_reset_password", args=[pk]))
        return ctx


class AccountEditView(AccountMixin, PortalView, TemplateView):
    """Create (no pk: ``auth.add_user``) or edit (``auth.change_user``) an account through the actions."""

    template_name = "accounts/user_form.html"

    def get_permission_required(self):
        return ["auth.change_user" if "pk" in self.kwargs else "auth.add_user"]

    def get_object(self):
        return get_object_or_404(accounts(), pk=self.kwargs["pk"]) if "pk" in self.kwargs else None

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        return self.render_to_response(self.get_context_data(form=AccountForm(instance=obj), object=obj))

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        form = AccountForm(request.POST, instance=obj)
        if form.is_valid():
            try:
                if obj is None:
                    obj = actions.create_account(actor=self.actor(), **form.action_fields())
                    _stash(request, obj, obj.new_password)
                    messages.success(request, _("Created account %(account)s.") % {"account": obj})
                else:
                    obj = actions.update_account(obj, actor=self.actor(), **form.action_fields())
                    messages.success(request, _("Saved account %(account)s.") % {"account": obj})
                return HttpResponseRedirect(account_url(obj))
            except ValidationError as exc:
                add_errors(form, exc)
        return self.render_to_response(self.get_context_data(form=form, object=obj), status=400)


class _AccountOperationView(AccountMixin, PortalView, TemplateView):
    """A confirmation page (GET) and the operation (POST) on one account; a refusal is said on its page."""

    perm_action = "change"

    def account(self):
        return get_object_or_404(accounts(), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(object=self.account(), list_url=reverse("accounts:user_list"))
        return ctx

    def post(self, request, *args, **kwargs):
        user = self.account()
        try:
            done = self.operate(user)
        except ValidationError as exc:
            messages.error(request, _("Nothing was changed: %(reason)s") % {"reason": " ".join(exc.messages)})
        else:
            messages.success(request, done)
        return HttpResponseRedirect(account_url(user))

    def operate(self, user) -> str:
        raise NotImplementedError


class AccountDisableView(_AccountOperationView):
    template_name = "accounts/user_disable.html"
    active = False

    def operate(self, user) -> str:
        actions.set_active(user, actor=self.actor(), active=self.active)
        return (_("Account %(account)s enabled.") if self.active else _("Account %(account)s disabled.")) \
            % {"account": user}


class AccountEnableView(AccountDisableView):
    template_name = "accounts/user_enable.html"
    active = True


class AccountResetPasswordView(_AccountOperationView):
    template_name = "accounts/user_reset_password.html"

    def operate(self, user) -> str:
        _stash(self.request, user, actions.reset_password(user, actor=self.actor()))
        return _("New password issued for %(account)s.") % {"account": user}


def _stash(request, user, password: str | None) -> None:
    """Keep a freshly issued password for exactly one display on the account's page."""
    if password:
        request.session[SHOWN_ONCE.format(pk=user.pk)] = {"password": password}


# --- every account's own pages ------------------------------------------------------------------------------------


class MyAccountView(LoginRequiredMixin, TemplateView):
    """The signed-in account's own language and time zone, and the way to its password and second factor."""

    template_name = "accounts/my_account.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        profile = actions.profile_of(user)
        ctx.update(role=_role(user), sites=_sites(user), two_factor=bool(profile and profile.two_factor_enabled))
        ctx.setdefault("form", PreferencesForm(user=user))
        return ctx

    def post(self, request, *args, **kwargs):
        form = PreferencesForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                actions.update_preferences(_me(request), actor=Actor.from_request(request), **form.cleaned_data)
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, _("Your preferences are saved."))
                return HttpResponseRedirect(reverse("accounts:me"))
        return self.render_to_response(self.get_context_data(form=form), status=400)


def _me(request):
    """The signed-in account as a plain row to write (``request.user`` is a lazy stand-in for it)."""
    return get_user_model().objects.get(pk=request.user.pk)


class OwnPasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change (old password, AUTH_PASSWORD_VALIDATORS), written and audited by the action;
    the account's other sessions end, this one goes on."""

    template_name = "accounts/password_change_form.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form):
        user = actions.change_own_password(_me(self.request), actor=Actor.from_request(self.request),
                                           password=form.cleaned_data["new_password1"])
        update_session_auth_hash(self.request, user)
        messages.success(self.request, _("Your password is changed."))
        return HttpResponseRedirect(self.get_success_url())


class OwnPasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"

