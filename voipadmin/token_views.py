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
from django.views.generic import TemplateView

from .api import tokens
from .models import ApiToken
from .views import PortalView


class TokenPermissionMixin(PortalView):
    model = ApiToken

    def get_permission_required(self):
        return ["voipadmin.manage_apitoken"]

    def get_context_data(self, **kwargs):
        ctx = TemplateView.get_context_data(self, **kwargs)
        ctx.update(verbose_name="API token", verbose_name_plural="API tokens", add_url=None)
        return ctx


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who uses it, e.g. billing-system.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)
    expires_at = forms.DateTimeField(required=False, help_text="Optional, e.g. 2027-12-31 23:59.",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    allowed_networks = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                       help_text="Optional CIDR networks, comma or newline separated.")


class ApiTokenListView(TokenPermissionMixin, TemplateView):
    template_name = "voipadmin/apitoken_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(tokens=ApiToken.objects.select_related("created_by"), now=timezone.now(),
                   form=kwargs.get("form") or ApiTokenForm())
        return ctx

    def post(self, request):
        form = ApiTokenForm(request.POST)
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
        token = get_object_or_404(ApiToken, pk=pk)
        tokens.revoke_token(token, actor=self.actor())
        messages.success(request, f"Revoked API token {token}.")
        return HttpResponseRedirect(reverse("apitoken_list"))
