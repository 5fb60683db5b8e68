"""SIP user pages: list/search, detail, create, edit, delete, password and PIN resets, CSV import/export.

Secrets are shown once: an action returns them, the view keeps them in the session under a per-user key
and the next page (the user's detail, ``Cache-Control: no-store``) pops them. They never go in a URL, a
message or the audit log. An import's generated secrets are a sealed file the operator downloads once.
"""
from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.generic import TemplateView

from sites.models import Site
from voipadmin import scope
from voipadmin.views import (BulkAction, BulkView, Column, ObjectDeleteView, ObjectDetailView, ObjectEditView,
                             ObjectListView, PortalView)

from . import actions, blf, csvio, importjobs
from .filtersets import SipUserFilterSet
from .forms import ImportUploadForm, SipUserForm, VoicemailPinForm
from .models import SipUser

SECRET_KEY = "users:shown-once:{pk}"
IMPORT_KEY = "users:import"  # the session's current import job: {"token", "name"}
MAX_UPLOAD = 64 * 1024 * 1024  # (streamed to a sealed file, never held whole: about 800,000 lines)


def _stash(request, user: SipUser, **values: str | None) -> None:
    """Keep freshly issued secrets for exactly one display on the user's page."""
    shown = {k: v for k, v in values.items() if v}
    if shown:
        key = SECRET_KEY.format(pk=user.pk)
        request.session[key] = {**request.session.get(key, {}), **shown}


def _mailbox(u: SipUser) -> str:
    return u.mailbox if u.voicemail_enabled else gettext("off")


class MoveToSiteForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.order_by("name"), label=_("Move to site"),
                                  help_text=_("Each user's extension must lie in one of this site's ranges."))


SIPUSER_BULK_ACTIONS = [
    BulkAction("enable", _("Enable"), "change", icon="bi-toggle-on", done=_("Enabled"),
               plan=lambda users: actions.plan_bulk_update(users, enabled=True),
               apply=lambda users, *, actor: actions.bulk_update_users(users, actor=actor, enabled=True,
                                                                         message="Bulk enable")),
    BulkAction("disable", _("Disable"), "change", icon="bi-toggle-off", done=_("Disabled"),
               plan=lambda users: actions.plan_bulk_update(users, enabled=False),
               apply=lambda users, *, actor: actions.bulk_update_users(users, actor=actor, enabled=False,
                                                                         message="Bulk disable")),
    BulkAction("move", _("Move to site…"), "change", icon="bi-geo-alt", form=MoveToSiteForm, done=_("Moved"),
               verb=_("Move"),
               plan=lambda users, site: actions.plan_bulk_update(users, site=site),
               apply=lambda users, *, actor, site: actions.bulk_update_users(users, actor=actor, site=site,
                                                                               message="Bulk move to site")),
    BulkAction("delete", _("Delete"), "delete", icon="bi-trash", style="outline-danger", done=_("Deleted"),
               plan=actions.plan_bulk_delete, apply=actions.bulk_delete_users),
]


class SipUserListView(ObjectListView):
    model = SipUser
    template_name = "users/sipuser_list.html"
    filterset_class = SipUserFilterSet
    columns = [Column(_("Extension"), "extension", link=True, order_by=True),
               Column(_("Name"), "name", order_by=True), Column(_("Email"), "email", order_by=True), Column(_("Site"), "site_name", order_by="site__name"),
               Column(_("Enabled"), "enabled", order_by=True), Column(_("Voicemail"), "voicemail_enabled", order_by=True),
               Column("NAT", "nat", order_by=True),
               Column(_("State"), lambda u: mark_safe(f'<span id="ext-state-{int(u.extension)}"></span>'))]
    bulk_actions = SIPUSER_BULK_ACTIONS
    bulk_url_name = "users:sipuser_bulk"

    def get_queryset(self):
        # the columns' fields only: no hashes, secrets or timestamps read and converted for 50-250 rows a page
        return SipUser.objects.only("extension", "name", "email", "enabled", "voicemail_enabled", "nat")

    def with_columns(self, queryset):
        # the site's name, not a Site made for each row (select_related): 50 rows in 1.5 ms of CPU, not 2.5
        return queryset.annotate(site_name=F("site__name"))

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["export_url"] = reverse("users:sipuser_export") + (f"?{ctx['querystring']}" if ctx["querystring"] else "")
        ctx["import_url"] = reverse("users:sipuser_import")
        # the page's extensions for the state badges' one request (sipuser_list.html)
        ctx["state_query"] = mark_safe("".join(f"ext={int(obj.extension)}&" for obj, _cells in ctx["rows"]))
        return ctx


class SipUserBulkView(BulkView):
    """Enable, disable, move or delete the users selected on the list (confirmation first)."""

    model = SipUser
    bulk_actions = SIPUSER_BULK_ACTIONS

    def get_queryset(self):
        return SipUser.objects.select_related("site")


@dataclass
class BlfKeyRow:
    """One BLF key as the user's page shows it (``extension`` for the live state tag, ``url`` if visible)."""

    position: int
    extension: int
    label: str
    url: str | None


def blf_rows(user: SipUser, viewer) -> list[BlfKeyRow]:
    """The user's keys for its page: one query (the live states are the template's, three more)."""
    site_ids = scope.site_scope(viewer)
    keys = user.monitored_extensions.select_related("monitored__site").order_by("position")
    return [BlfKeyRow(position=k.position, extension=k.monitored.extension, label=blf.shown_label(k, site_ids),
                      url=k.monitored.get_absolute_url() if site_ids is None or k.monitored.site_id in site_ids
                      else None) for k in keys]


@method_decorator(never_cache, name="dispatch")  # (it shows a new password or PIN once: no cache may keep it)
class SipUserDetailView(ObjectDetailView):
    model = SipUser
    template_name = "users/sipuser_detail.html"
    fields = [Column(_("Extension"), "extension"), Column(_("Display name"), "name"), Column(_("Email"), "email"),
              Column(_("Home site"), "site"), Column(_("SIP account"), "aor"), Column(_("Enabled"), "enabled"),
              Column(_("Caller ID"), "effective_caller_id"), Column(_("Behind NAT"), "nat"),
              Column(_("Codecs"), "effective_codecs"), Column(_("Voicemail"), "voicemail_enabled"),
              Column(_("Mailbox"), _mailbox),
              Column(_("Voicemail notifications to"), lambda u: u.voicemail_email or u.email)]

    def get_queryset(self):
        return SipUser.objects.select_related("site")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["shown_once"] = self.request.session.pop(SECRET_KEY.format(pk=self.object.pk), None)
        ctx["can_reset_pin"] = user.has_perm("users.reset_voicemail_pin")
        ctx["reset_pin_url"] = reverse("users:sipuser_reset_pin", args=[self.object.pk])
        ctx["reset_password_url"] = reverse("users:sipuser_reset_password", args=[self.object.pk])
        ctx["blf_keys"] = blf_rows(self.object, user)
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
        ctx["object"] = get_object_or_404(self.restrict(SipUser.objects.select_related("site"), scope.CHANGE),
                                          pk=self.kwargs["pk"])
        return ctx

    def post(self, request, *args, **kwargs):
        user = get_object_or_404(self.restrict(SipUser.objects.select_related("site"), scope.CHANGE), pk=kwargs["pk"])
        password = actions.reset_password(user, actor=self.actor())
        _stash(request, user, password=password)
        messages.success(request, gettext("New SIP password issued for %(user)s.") % {"user": user})
        return HttpResponseRedirect(user.get_absolute_url())


class SipUserResetPinView(PortalView, TemplateView):
    """Helpdesk's one write: a new voicemail PIN, typed or generated, shown once."""

    model = SipUser
    template_name = "users/sipuser_reset_pin.html"

    def get_permission_required(self):
        return ["users.reset_voicemail_pin"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["object"] = get_object_or_404(self.restrict(SipUser.objects.select_related("site"), scope.CHANGE),
                                          pk=self.kwargs["pk"])
        ctx.setdefault("form", VoicemailPinForm())
        return ctx

    def post(self, request, *args, **kwargs):
        user = get_object_or_404(self.restrict(SipUser.objects.select_related("site"), scope.CHANGE), pk=kwargs["pk"])
        form = VoicemailPinForm(request.POST)
        if form.is_valid():
            try:
                pin = actions.reset_voicemail_pin(user, actor=self.actor(), pin=form.cleaned_data["pin"] or None)
            except ValidationError as exc:
                form.add_error("pin", exc.message_dict.get("voicemail_pin", exc.messages))
            else:
                _stash(request, user, voicemail_pin=pin)
                messages.success(request, gettext("Voicemail PIN of %(user)s reset.") % {"user": user})
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
        qs = self.restrict(SipUser.objects.select_related("site")).order_by("extension")
        filterset = SipUserFilterSet(request.GET or None, queryset=qs, request=request)
        if filterset.is_bound and filterset.is_valid():
            qs = filterset.qs
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="users-{timezone.now():%Y%m%d-%H%M%S}.csv"'
        csvio.export(qs.prefetch_related(blf.keys_prefetch()).iterator(chunk_size=2000), response)
        return response


def _current(request) -> dict:
    """The session's import job (token, file name), if any."""
    pending = request.session.get(IMPORT_KEY) or {}
    return pending if importjobs.valid(pending.get("token")) else {}


@method_decorator(csrf_exempt, name="dispatch")  # (checked in post(), once the upload handler is in place)
@method_decorator(never_cache, name="dispatch")
class SipUserImportView(PortalView, TemplateView):
    """Upload → dry-run preview (every line's outcome or error) → confirm → result (+ one-time secrets).

    Both steps are an import job (``users.importjobs``): a small file is checked or imported in this request,
    a big one by a Celery task while the page shows its progress (``SipUserImportStatusView``) and comes
    back here (``?job``) for the outcome.
    """

    model = SipUser
    perm_action = "add"
    template_name = "users/sipuser_import.html"

    def get_permission_required(self):
        return ["users.add_sipuser", "users.change_sipuser"]

    def get_context_data(self, **kwargs):
        return super().get_context_data(import_files_minutes=settings.IMPORT_FILES_MINUTES, **kwargs)

    def get(self, request, *args, **kwargs):
        if "job" in request.GET:
            current = _current(request)
            job = importjobs.status(current.get("token"))
            if job is None:
                messages.error(request, gettext("That import is no longer available; upload the file again."))
                return HttpResponseRedirect(reverse("users:sipuser_import"))
            return self._render_job(current["token"], job)
        return self.render_to_response(self.get_context_data(form=ImportUploadForm(), stage="upload"))

    def post(self, request, *args, **kwargs):
        # The upload is sealed as it arrives: nothing of it in clear on disk, one chunk in memory. The handler
        # must be set before anything reads the body, so the CSRF check comes after it (csrf_protect below).
        request.upload_handlers = [importjobs.SealedUploadHandler(request, max_size=MAX_UPLOAD)]
        return self._post(request)

    @method_decorator(csrf_protect)
    def _post(self, request):
        if "confirm" in request.POST:
            return self._confirm(request)
        form = ImportUploadForm(request.POST, request.FILES)
        upload = request.FILES.get("file")
        if not form.is_valid() or upload.too_big:
            importjobs.discard(getattr(upload, "token", None))
            if form.is_valid():
                form.add_error("file", gettext("The file is larger than %(size)d MB.")
                               % {"size": MAX_UPLOAD // 1024 // 1024})
            return self.render_to_response(self.get_context_data(form=form, stage="upload"), status=400)
        previous = _current(request)
        if previous and (importjobs.status(previous["token"]) or {}).get("state") not in ("queued", "running"):
            importjobs.discard(previous["token"])  # an abandoned preview or an undownloaded result goes now
        name = upload.name[:100]
        request.session[IMPORT_KEY] = {"token": upload.token, "name": name}
        importjobs.remember(request.session, upload.token)
        job = importjobs.start(upload.token, actor=self.actor(), dry_run=True, filename=name, lines=upload.lines)
        return self._render_job(upload.token, job, form=form)

    def _confirm(self, request):
        current = _current(request)
        job = importjobs.status(current.get("token"))
        if (job is None or request.POST.get("confirm") != current["token"] or job.get("state") != "done"
                or not job.get("dry_run") or job.get("error_count")):
            messages.error(request, gettext("That import is no longer pending; upload the file again."))
            return HttpResponseRedirect(reverse("users:sipuser_import"))
        job = importjobs.start(current["token"], actor=self.actor(), dry_run=False, filename=current["name"],
                               lines=job.get("lines"))
        return self._render_job(current["token"], job)

    def _render_job(self, token: str, job: dict, form=None):
        state = job.get("state")
        if state in ("queued", "running"):
            return self.render_to_response(self.get_context_data(stage="running", job=job))
        if state == "failed":
            if form is not None and job.get("dry_run"):  # the file itself cannot be read: say so on the form
                form.add_error("file", job.get("message", gettext("The file cannot be read.")))
                return self.render_to_response(self.get_context_data(form=form, stage="upload"), status=400)
            messages.error(self.request, job.get("message") or gettext("The import failed; nothing was written."))
            return HttpResponseRedirect(reverse("users:sipuser_import"))
        ok = not job.get("error_count")
        if job.get("imported"):
            return self.render_to_response(self.get_context_data(stage="done", job=job, filename=job["filename"]))
        return self.render_to_response(
            self.get_context_data(stage="preview", job=job, filename=job["filename"], counts=job["counts"],
                                  confirm_token=token if ok and job.get("dry_run") else None),
            status=200 if ok else 400)


class SipUserImportStatusView(SipUserImportView):
    """The current job's progress, as JSON, for the import page's progress bar."""

    def get(self, request, *args, **kwargs):
        job = importjobs.status(_current(request).get("token"))
        if job is None:  # none started, or its files expired or went with a logout
            return JsonResponse({"state": "none"})
        return JsonResponse({k: job.get(k) for k in ("state", "stage", "done", "total", "dry_run")})

    def post(self, request, *args, **kwargs):
        return HttpResponse(status=405)


class SipUserImportSecretsView(SipUserImportView):
    """The generated passwords/PINs of the session's last import, downloadable exactly once (the download
    takes the sealed file: a second request, or anyone else, finds nothing)."""

    kind = importjobs.SECRETS
    filename = "import-secrets"
    gone = _("The generated secrets were already downloaded (they are kept for one download).")

    def get(self, request, *args, **kwargs):
        reader = importjobs.take(_current(request).get("token"), self.kind)
        if reader is None:
            messages.error(request, self.gone)
            return HttpResponseRedirect(reverse("users:sipuser_import"))
        response = StreamingHttpResponse(_decrypted(reader), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (f'attachment; filename="{self.filename}-'
                                           f'{timezone.now():%Y%m%d-%H%M%S}.csv"')
        response["Cache-Control"] = "no-store"
        return response

    def post(self, request, *args, **kwargs):
        return HttpResponse(status=405)


class SipUserImportErrorsView(SipUserImportSecretsView):
    """Every error of the refused file, ``line,error``, downloadable once."""

    kind = importjobs.ERRORS
    filename = "import-errors"
    gone = _("The list of errors was already downloaded; upload the file again to check it.")


def _decrypted(reader):
    """The sealed file's clear bytes, chunk by chunk (a big file is never whole in memory)."""
    with reader:
        yield from reader.chunks()
