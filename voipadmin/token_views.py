"""API token pages for administrators: list, create (the key is shown once), revoke."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext, gettext_lazy as _
from django.views.generic import TemplateView

from sites.models import Site

from . import scope
from .api import tokens
from .models import ApiToken
from .views import PortalView


class TokenPermissionMixin(PortalView):
    model = ApiToken

    def get_permission_required(self):
        return ["voipadmin.manage_apitoken"]

    def get_context_data(self, **kwargs):
        ctx = TemplateView.get_context_data(self, **kwargs)
        ctx.update(verbose_name=_("API token"), verbose_name_plural=_("API tokens"), add_url=None)
        return ctx


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("Who uses it, e.g. billing-system."))
    scope = forms.ChoiceField(label=_("Scope"), choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)
    expires_at = forms.DateTimeField(label=_("Expires at"), required=False,
                                     help_text=_("Optional, e.g. 2027-12-31 23:59."),
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    allowed_networks = forms.CharField(label=_("Allowed networks"), required=False,
                                       widget=forms.Textarea(attrs={"rows": 2}),
                                       help_text=_("Optional CIDR networks, comma or newline separated."))
    sites = forms.ModelMultipleChoiceField(
        queryset=Site.objects.order_by("name"), required=False,
        label=_("Sites"),
        help_text=_("Limit the token to these sites' users, nodes, trunks, numbers and call records. Empty: the "
                    "whole estate (a site-limited account's tokens are always limited to its sites)."))


class ApiTokenListView(TokenPermissionMixin, TemplateView):
    template_name = "voipadmin/apitoken_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(tokens=self.restrict(ApiToken.objects.select_related("created_by").prefetch_related("sites")),
                   now=timezone.now(),
                   form=kwargs.get("form") or scope.restrict_choices(ApiTokenForm(), self.request.user))
        return ctx

    def post(self, request):
        form = scope.restrict_choices(ApiTokenForm(request.POST), request.user)
        if form.is_valid():
            try:
                token, key = tokens.create_token(actor=self.actor(), **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in getattr(exc, "error_dict", {"__all__": exc.error_list}).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                response = self.render_to_response(self.get_context_data(created=token, key=key))
                add_never_cache_headers(response)  # the one page that ever shows the key
                return response
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ApiTokenRevokeView(TokenPermissionMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        token = get_object_or_404(self.restrict(ApiToken.objects.all(), scope.CHANGE), pk=pk)
        tokens.revoke_token(token, actor=self.actor())
        messages.success(request, gettext("Revoked API token %(token)s.") % {"token": token})
        return HttpResponseRedirect(reverse("apitoken_list"))
