"""SIP user pages: list/search, detail, create, edit, delete, password and PIN resets, CSV import/export.

Secrets are shown once: an action returns them, the view keeps them in the session under a per-user key
and the next page (the user's detail) pops them. They never go in a URL, a message or the audit log.
"""
from __future__ import annotations

import io
import os
import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from django.utils import timezone
from django.views.generic import TemplateView

from voipadmin.views import Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectListView, PortalView

from . import actions, csvio
from .filtersets import SipUserFilterSet
from .forms import ImportUploadForm, SipUserForm, VoicemailPinForm
from .models import SipUser

SECRET_KEY = "users:shown-once:{pk}"
IMPORT_KEY = "users:import"
IMPORT_SECRETS_KEY = "users:import-secrets"
MAX_UPLOAD = 20 * 1024 * 1024


def _stash(request, user: SipUser, **values: str | None) -> None:
    """Keep freshly issued secrets for exactly one display on the user's page."""
    shown = {k: v for k, v in values.items() if v}
    if shown:
        key = SECRET_KEY.format(pk=user.pk)
        request.session[key] = {**request.session.get(key, {}), **shown}


def _mailbox(u: SipUser) -> str:
    return u.mailbox if u.voicemail_enabled else "off"


class SipUserListView(ObjectListView):
    model = SipUser
    template_name = "users/sipuser_list.html"
    filterset_class = SipUserFilterSet
    columns = [Column("Extension", "extension", link=True), Column("Name", "name"), Column("Email", "email"),
               Column("Site", "site.name"), Column("Enabled", "enabled"), Column("Voicemail", "voicemail_enabled"),
               Column("NAT", "nat"),
               Column("State", lambda u: format_html('<span id="ext-state-{}"></span>', u.extension))]

    def get_queryset(self):
        return SipUser.objects.select_related("site")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["export_url"] = reverse("users:sipuser_export") + (f"?{ctx['querystring']}" if ctx["querystring"] else "")
        ctx["import_url"] = reverse("users:sipuser_import")
        return ctx


class SipUserDetailView(ObjectDetailView):
    model = SipUser
    template_name = "users/sipuser_detail.html"
    fields = [Column("Extension", "extension"), Column("Display name", "name"), Column("Email", "email"),
              Column("Home site", "site"), Column("SIP account", "aor"), Column("Enabled", "enabled"),
              Column("Caller ID", "effective_caller_id"), Column("Behind NAT", "nat"),
              Column("Codecs", "effective_codecs"), Column("Voicemail", "voicemail_enabled"),
              Column("Mailbox", _mailbox),
              Column("Voicemail notifications to", lambda u: u.voicemail_email or u.email)]

    def get_queryset(self):
        return SipUser.objects.select_related("site")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["shown_once"] = self.request.session.pop(SECRET_KEY.format(pk=self.object.pk), None)
        ctx["can_reset_pin"] = user.has_perm("users.reset_voicemail_pin")
        ctx["reset_pin_url"] = reverse("users:sipuser_reset_pin", args=[self.object.pk])
        ctx["reset_password_url"] = reverse("users:sipuser_reset_password", args=[self.object.pk])
        return ctx


class SipUserEditView(ObjectEditView):
    model = SipUser
    form_class = SipUserForm
    create_action = staticmethod(actions.create_user)
    update_action = staticmethod(actions.update_user)

    def after_save(self, obj):
        _stash(self.request, obj, password=getattr(obj, "new_password", None),
               voicemail_pin=getattr(obj, "new_voicemail_pin", None))
        return super().after_save(obj)


class SipUserDeleteView(ObjectDeleteView):
    model = SipUser
    delete_action = staticmethod(actions.delete_user)


class SipUserResetPasswordView(PortalView, TemplateView):
    """Confirm page (GET) and the reset itself (POST): a new SIP password, shown once on the detail page."""

    model = SipUser
    perm_action = "change"
    template_name = "users/sipuser_reset_password.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["object"] = get_object_or_404(SipUser.objects.select_related("site"), pk=self.kwargs["pk"])
        return ctx

    def post(self, request, *args, **kwargs):
        user = get_object_or_404(SipUser.objects.select_related("site"), pk=kwargs["pk"])
        password = actions.reset_password(user, actor=self.actor())
        _stash(request, user, password=password)
        messages.success(request, f"New SIP password issued for {user}.")
        return HttpResponseRedirect(user.get_absolute_url())


class SipUserResetPinView(PortalView, TemplateView):
    """Helpdesk's one write: a new voicemail PIN, typed or generated, shown once."""

    model = SipUser
    template_name = "users/sipuser_reset_pin.html"

    def get_permission_required(self):
        return ["users.reset_voicemail_pin"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["object"] = get_object_or_404(SipUser.objects.select_related("site"), pk=self.kwargs["pk"])
        ctx.setdefault("form", VoicemailPinForm())
        return ctx

    def post(self, request, *args, **kwargs):
        user = get_object_or_404(SipUser.objects.select_related("site"), pk=kwargs["pk"])
        form = VoicemailPinForm(request.POST)
        if form.is_valid():
            try:
                pin = actions.reset_voicemail_pin(user, actor=self.actor(), pin=form.cleaned_data["pin"] or None)
            except ValidationError as exc:
                form.add_error("pin", exc.message_dict.get("voicemail_pin", exc.messages))
            else:
                _stash(request, user, voicemail_pin=pin)
                messages.success(request, f"Voicemail PIN of {user} reset.")
                return HttpResponseRedirect(user.get_absolute_url())
        return self.render_to_response(self.get_context_data(form=form), status=400)


class SipUserExportView(PortalView, TemplateView):
    """CSV of the (filtered) list, without secrets: importing it again changes nothing.

    An administrator's tool (the other half of the import): helpdesk finds users on screen, nothing more.
    """

    model = SipUser

    def get_permission_required(self):
        return ["users.add_sipuser", "users.change_sipuser"]

    def get(self, request, *args, **kwargs):
        qs = SipUser.objects.select_related("site").order_by("extension")
        filterset = SipUserFilterSet(request.GET or None, queryset=qs, request=request)
        if filterset.is_bound and filterset.is_valid():
            qs = filterset.qs
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="users-{timezone.now():%Y%m%d-%H%M%S}.csv"'
        csvio.export(qs.iterator(chunk_size=2000), response)
        return response


def _import_dir() -> Path:
    path = Path(getattr(settings, "VAR_DIR", tempfile.gettempdir())) / "user-imports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _keep(data: bytes) -> str:
    """Store an upload (or generated secrets) server-side under a random id; only the session knows it."""
    token = secrets.token_urlsafe(24)
    fd = os.open(_import_dir() / f"{token}.csv", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return token


def _take(token: str | None, *, remove: bool) -> bytes | None:
    if not token or not token.replace("-", "").replace("_", "").isalnum():
        return None
    path = _import_dir() / f"{token}.csv"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if remove:
        path.unlink(missing_ok=True)
    return data


class SipUserImportView(PortalView, TemplateView):
    """Upload → dry-run preview (every line's outcome or error) → confirm → result (+ one-time secrets)."""

    model = SipUser
    perm_action = "add"
    template_name = "users/sipuser_import.html"

    def get_permission_required(self):
        return ["users.add_sipuser", "users.change_sipuser"]

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=ImportUploadForm(), stage="upload"))

    def post(self, request, *args, **kwargs):
        if "confirm" in request.POST:
            return self._confirm(request)
        form = ImportUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form, stage="upload"), status=400)
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            form.add_error("file", f"The file is larger than {MAX_UPLOAD // 1024 // 1024} MB.")
            return self.render_to_response(self.get_context_data(form=form, stage="upload"), status=400)
        data = upload.read()
        try:
            header, rows = csvio.parse(data)
        except csvio.ImportError_ as exc:
            form.add_error("file", str(exc))
            return self.render_to_response(self.get_context_data(form=form, stage="upload"), status=400)
        plan = csvio.plan(header, rows)
        _take(request.session.pop(IMPORT_KEY, {}).get("token"), remove=True)  # drop an abandoned upload
        token = None
        if plan.ok:
            token = _keep(data)
            request.session[IMPORT_KEY] = {"token": token, "name": upload.name[:100]}
        return self.render_to_response(self._preview(plan, upload.name, token), status=200 if plan.ok else 400)

    def _preview(self, plan, filename: str, token: str | None):
        counts = {a: plan.count(a) for a in ("create", "update", "unchanged")}
        return self.get_context_data(stage="preview", plan=plan, filename=filename, preview=plan.lines[:500],
                                     counts=counts, confirm_token=token)

    def _confirm(self, request):
        pending = request.session.pop(IMPORT_KEY, None) or {}
        data = _take(pending.get("token"), remove=True)
        if data is None or request.POST.get("confirm") != pending.get("token"):
            messages.error(request, "That import is no longer pending; upload the file again.")
            return HttpResponseRedirect(reverse("users:sipuser_import"))
        name = pending.get("name", "upload.csv")
        try:
            plan, result = csvio.import_csv(data, actor=self.actor(), message=f"CSV import {name}")
        except (csvio.ImportError_, ValidationError) as exc:
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
            return HttpResponseRedirect(reverse("users:sipuser_import"))
        if result is None:  # the database changed since the preview and a line became invalid
            return self.render_to_response(self._preview(plan, name, None), status=400)
        secrets_token = None
        if result.secrets:
            buf = io.StringIO()
            csvio.write_secrets(result.secrets, buf)
            secrets_token = _keep(buf.getvalue().encode("utf-8"))
            request.session[IMPORT_SECRETS_KEY] = secrets_token
        return self.render_to_response(self.get_context_data(stage="done", result=result, filename=name,
                                                             secrets_token=secrets_token))


class SipUserImportSecretsView(SipUserExportView):
    """The generated passwords/PINs of the last import, downloadable exactly once by whoever imported."""

    def get(self, request, *args, **kwargs):
        token = request.session.pop(IMPORT_SECRETS_KEY, None)
        data = _take(token, remove=True)
        if data is None:
            messages.error(request, "The generated secrets were already downloaded (they are kept for one download).")
            return HttpResponseRedirect(reverse("users:sipuser_import"))
        response = HttpResponse(data, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-secrets-{timezone.now():%Y%m%d-%H%M%S}.csv"'
        response["Cache-Control"] = "no-store"
        return response
