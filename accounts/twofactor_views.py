"""Two-factor login pages: the log-in's code step, enrolment, recovery codes, turning it off.

The logic is in ``accounts.twofactor``; these views only move between the session, the forms and the pages.
"""
from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import get_user_model, login, user_login_failed
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views import View

from voipadmin.actors import Actor

from . import twofactor

SETUP_SECRET_KEY = "twofactor_setup_secret"


class TwoFactorLoginView(auth_views.LoginView):
    """Django's log-in (django-axes still counts every wrong password); an account with a second factor is
    not logged in yet but sent on to the code step."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if not twofactor.enabled_for(user):
            return super().form_valid(form)
        twofactor.begin_pending(self.request, user, redirect_to=self.get_success_url())
        return HttpResponseRedirect(reverse("twofactor:verify"))


class TwoFactorVerifyView(View):
    """The log-in's second step: a one-time code from the app, or a recovery code."""

    template_name = "accounts/twofactor/verify.html"

    def dispatch(self, request, *args, **kwargs):
        waiting = twofactor.PENDING_KEY in request.session
        self.state = twofactor.pending(request)
        self.account = self._account()
        if self.account is None:
            if waiting:
                messages.info(request, _("Please log in again: the code was not given within five minutes."))
            return HttpResponseRedirect(reverse("login"))
        return super().dispatch(request, *args, **kwargs)

    def _account(self):
        if self.state is None:
            return None
        account = get_user_model()._default_manager.filter(pk=self.state["user"], is_active=True).first()
        if account is None:
            twofactor.end_pending(self.request)
        return account

    def get(self, request):
        return self._page()

    def post(self, request):
        credentials = {"username": self.account.get_username()}
        if AxesProxyHandler.is_locked(request, credentials):  # locked meanwhile: axes' middleware answers
            twofactor.end_pending(request)
            request.axes_locked_out, request.axes_credentials = True, credentials
            return self._page()
        actor = Actor(user=self.account, label=self.account.get_username(), source="ui")
        if twofactor.verify(actor=actor, user=self.account, code=request.POST.get("code", "")):
            twofactor.end_pending(request)
            login(request, self.account, backend=self.state.get("backend") or None)
            return HttpResponseRedirect(self.state.get("next") or reverse("home"))
        left = twofactor.count_wrong_code(request)
        if left:
            return self._page(error=_("That code is not right."), left=left)
        # five wrong codes: one failed log-in for django-axes, and the password is asked again
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        messages.error(request, _("Too many wrong codes: log in again."))
        return HttpResponseRedirect(reverse("login"))

    def _page(self, **context):
        return render(self.request, self.template_name, {"max_attempts": twofactor.MAX_CODE_ATTEMPTS, **context})


def _codes_page(request, codes: list[str]):
    """The one page that ever shows recovery codes: never cached."""
    response = render(request, "accounts/twofactor/recovery_codes.html", {"codes": codes})
    add_never_cache_headers(response)
    return response


class TwoFactorSetupView(LoginRequiredMixin, View):
    """Enrolment (a new secret, kept in the session until a code confirms it) or, once enrolled, its state."""

    def get(self, request):
        if twofactor.enabled_for(request.user):
            return manage_page(request)
        return self._enrol()

    def post(self, request):
        secret = request.session.get(SETUP_SECRET_KEY)
        if twofactor.enabled_for(request.user) or not secret:
            return HttpResponseRedirect(reverse("twofactor:setup"))
        try:
            codes = twofactor.confirm_enrolment(actor=Actor.from_request(request), user=request.user,
                                                secret=secret, code=request.POST.get("code", ""))
        except twofactor.CodeRefused as exc:
            return self._enrol(error=exc.messages[0])
        request.session.pop(SETUP_SECRET_KEY, None)
        return _codes_page(request, codes)

    def _enrol(self, **context):
        secret = self.request.session.get(SETUP_SECRET_KEY)
        if not secret:
            secret = self.request.session[SETUP_SECRET_KEY] = twofactor.new_secret()
        uri = twofactor.provisioning_uri(secret, self.request.user.get_username())
        response = render(self.request, "accounts/twofactor/setup.html", {
            "secret": twofactor.grouped(secret), "uri": uri, "qr": twofactor.qr_svg(uri),
            "required": twofactor.required_for(self.request.user), **context})
        add_never_cache_headers(response)  # it shows the secret
        return response


def manage_page(request, **context):
    """An enrolled account's two-factor page: since when, recovery codes left, new codes, turning it off."""
    profile = twofactor.profile_of(request.user)
    return render(request, "accounts/twofactor/manage.html", {
        "profile": profile, "codes_left": len(profile.recovery_codes or []),
        "required": twofactor.required_for(request.user), **context})


class RecoveryCodesView(LoginRequiredMixin, View):
    """New recovery codes, for a current one-time code (a button of the two-factor page: POST only)."""

    def post(self, request):
        if not twofactor.enabled_for(request.user):
            return HttpResponseRedirect(reverse("twofactor:setup"))
        try:
            codes = twofactor.regenerate_recovery_codes(actor=Actor.from_request(request), user=request.user,
                                                        code=request.POST.get("code", ""))
        except twofactor.CodeRefused as exc:
            return manage_page(request, codes_error=exc.messages[0])
        return _codes_page(request, codes)


class DisableView(LoginRequiredMixin, View):
    """Turn two-factor login off: the password and a current code (refused where the setting requires it).
    A form of the two-factor page: POST only."""

    def post(self, request):
        if not twofactor.enabled_for(request.user):
            return HttpResponseRedirect(reverse("twofactor:setup"))
        try:
            twofactor.disable(actor=Actor.from_request(request), user=request.user,
                              password=request.POST.get("password", ""), code=request.POST.get("code", ""))
        except twofactor.CodeRefused as exc:
            return manage_page(request, disable_error=exc.messages[0])
        messages.success(request, _("Two-factor login is off for this account."))
        return HttpResponseRedirect(reverse("twofactor:setup"))
