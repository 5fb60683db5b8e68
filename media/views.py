"""Pages of the media applications: rooms, menus, AGI applications, conference profiles, announcements.

Built on the generic views (voipadmin.views): site scoping, permissions and the audit trail come from there;
every write goes through media.actions.
"""
from __future__ import annotations

from django.db.models import Count, Prefetch
from django.utils.translation import gettext, gettext_lazy as _

from services.choices import ServiceKind
from services.models import ServiceCode
from trunks.views import TabsMixin as _TrunkTabsMixin
from voipadmin import scope
from voipadmin.views import BulkAction, BulkView, Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, \
    ObjectListView

from . import actions, sounds
from .filtersets import (AgiApplicationFilterSet, AnnouncementFilterSet, ConferenceProfileFilterSet,
                         ConferenceRoomFilterSet, IvrMenuFilterSet, SiteAnnouncementFilterSet)
from .forms import (AgiApplicationForm, AnnouncementForm, ConferenceProfileForm, ConferenceRoomForm, IvrMenuForm,
                    SiteAnnouncementForm)
from .models import (ActiveRoom, AgiApplication, Announcement, ConferenceProfile, ConferenceRoom,
                     IvrMenu, MenuCall, MenuOption, SiteAnnouncement)

TABS = [(_("Conference rooms"), "media:conferenceroom_list", "media.view_conferenceroom"),
        (_("IVR menus"), "media:ivrmenu_list", "media.view_ivrmenu"),
        (_("AGI applications"), "media:agiapplication_list", "media.view_agiapplication"),
        (_("Announcements"), "media:announcement_list", "media.view_announcement"),
        (_("Announcement per site"), "media:siteannouncement_list", "media.view_siteannouncement"),
        (_("Conference profiles"), "media:conferenceprofile_list", "media.view_conferenceprofile")]


class TabsMixin(_TrunkTabsMixin):
    template_name = "trunks/tabbed_list.html"
    tabs = TABS
    index_name = "media:index"


def _code(obj) -> str:
    return obj.service_code.code if obj.service_code_id else "—"


def _site(obj) -> str:
    return obj.site.name if obj.site_id else gettext("every site")


def _bulk_enable(label, done, icon, enabled):
    return BulkAction("enable" if enabled else "disable", label, "change", icon=icon, done=done,
                      plan=lambda objs: actions.plan_bulk_enable(objs, enabled=enabled),
                      apply=lambda objs, *, actor: actions.bulk_enable(objs, actor=actor, enabled=enabled))


BULK_ACTIONS = [_bulk_enable(_("Enable"), _("Enabled"), "bi-toggle-on", True),
                _bulk_enable(_("Disable"), _("Disabled"), "bi-toggle-off", False)]


class MediaEditView(ObjectEditView):
    """A delegation's administrator places what it creates on one of its own sites (never estate-wide)."""

    def get_form(self, obj, data=None):
        files = self.request.FILES if data is not None else None  # (an announcement's sound file)
        form = scope.restrict_choices(self.form_class(data, files, instance=obj), self.request.user)
        if scope.is_site_limited(self.request.user):
            form.require_site()
        return form


# --- conference rooms ---------------------------------------------------------------------------------------------


def _room_profile(room: ConferenceRoom) -> str:
    return room.profile.name if room.profile_id else gettext("site default")


def _reached_by(room: ConferenceRoom) -> str:
    """How a caller of the room's site reaches it: its own code, and its number after a rooms code."""
    ways = [gettext("dial %(code)s") % {"code": room.service_code.code}] if room.service_code_id else []
    ways += [gettext("dial %(code)s, then %(number)s") % {"code": code, "number": room.number}
             for code in ServiceCode.objects.filter(kind=ServiceKind.ROOMS, enabled=True)
             .values_list("code", flat=True)]
    return "; ".join(ways) or gettext("no code reaches it yet")


class ConferenceRoomListView(TabsMixin, ObjectListView):
    model = ConferenceRoom
    filterset_class = ConferenceRoomFilterSet
    columns = [Column(_("Number"), "number", link=True, order_by=("site__name", "number")),
               Column(_("Name"), "name", order_by=True), Column(_("Site"), "site.name", order_by=True),
               Column(_("Service code"), _code, order_by="service_code__code"),
               Column(_("PIN"), lambda r: gettext("yes") if r.pin else gettext("no")),
               Column(_("Profile"), _room_profile, order_by="profile__name"),
               Column(_("Enabled"), "enabled", order_by=True)]
    bulk_actions = BULK_ACTIONS
    bulk_url_name = "media:conferenceroom_bulk"

    def get_queryset(self):
        return ConferenceRoom.objects.select_related("site", "service_code", "profile")


class ConferenceRoomDetailView(ObjectDetailView):
    model = ConferenceRoom
    template_name = "media/conferenceroom_detail.html"
    fields = [Column(_("Room number"), "number"), Column(_("Name"), "name"), Column(_("Site"), "site"),
              Column(_("Reached by"), _reached_by),
              Column(_("PIN"), lambda r: gettext("asked (set)") if r.pin else gettext("none")),
              Column(_("Profile"), _room_profile), Column(_("Enabled"), "enabled"),
              Column(_("Description"), "description")]

    def get_queryset(self):
        return ConferenceRoom.objects.select_related("site", "service_code", "profile")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        room = self.object
        profile = room.profile or ConferenceProfile.objects.filter(site_default=room.site_id).first()
        ctx["profile"] = profile
        ctx["active"] = ActiveRoom.objects.filter(room=room).select_related("node").first()
        return ctx


class ConferenceRoomEditView(MediaEditView):
    model = ConferenceRoom
    form_class = ConferenceRoomForm
    create_action = staticmethod(actions.create_conference_room)
    update_action = staticmethod(actions.update_conference_room)


class ConferenceRoomDeleteView(ObjectDeleteView):
    model = ConferenceRoom
    delete_action = staticmethod(actions.delete_conference_room)


class ConferenceRoomBulkView(BulkView):
    model = ConferenceRoom
    bulk_actions = BULK_ACTIONS


# --- IVR menus ----------------------------------------------------------------------------------------------------

_OPTIONS = Prefetch("options", queryset=MenuOption.objects.select_related("target_menu", "room", "service_code",
                                                                          "agi"))


def _options(menu: IvrMenu) -> str:
    return ", ".join(actions.describe_option(o) for o in sorted(menu.options.all(), key=actions.key_order))


def _prompt(menu: IvrMenu) -> str:
    if menu.prompt_id:
        return menu.prompt.name
    return f"sound:{menu.prompt_sound}" if menu.prompt_sound else "—"


class IvrMenuListView(TabsMixin, ObjectListView):
    model = IvrMenu
    filterset_class = IvrMenuFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True), Column(_("Site"), "site.name", order_by=True),
               Column(_("Service code"), _code, order_by="service_code__code"),
               Column(_("Prompt"), _prompt), Column(_("Options"), _options),
               Column(_("Open hours"), lambda m: gettext("set") if m.hour_count else gettext("always open")),
               Column(_("Enabled"), "enabled", order_by=True)]
    bulk_actions = BULK_ACTIONS
    bulk_url_name = "media:ivrmenu_bulk"

    def get_queryset(self):
        return IvrMenu.objects.select_related("site", "service_code", "prompt").defer("prompt__audio") \
            .annotate(hour_count=Count("hours")).prefetch_related(_OPTIONS).order_by("site", "name")
        # (an aggregate drops Meta.ordering: GROUP BY)


class IvrMenuDetailView(ObjectDetailView):
    model = IvrMenu
    template_name = "media/ivrmenu_detail.html"
    fields = [Column(_("Name"), "name"), Column(_("Site"), "site"), Column(_("Service code"), "service_code"),
              Column(_("Prompt"), _prompt), Column(_("Timeout (s)"), "timeout"), Column(_("Attempts"), "attempts"),
              Column(_("After-hours menu"), "after_hours_menu"), Column(_("Enabled"), "enabled"),
              Column(_("Description"), "description")]

    def get_queryset(self):
        return IvrMenu.objects.select_related("site", "service_code", "prompt", "after_hours_menu") \
            .defer("prompt__audio").prefetch_related(_OPTIONS, "hours")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        menu = self.object
        ctx["options"] = sorted(menu.options.all(), key=actions.key_order)
        ctx["hours"] = [actions.describe_hours(h) for h in menu.hours.all()]
        ctx["used_by"] = IvrMenu.objects.filter(options__target_menu=menu).distinct()
        ctx["calls"] = MenuCall.objects.filter(menu=menu).select_related("node")[:50]
        return ctx


class IvrMenuEditView(MediaEditView):
    model = IvrMenu
    form_class = IvrMenuForm
    create_action = staticmethod(actions.create_ivr_menu)
    update_action = staticmethod(actions.update_ivr_menu)


class IvrMenuDeleteView(ObjectDeleteView):
    model = IvrMenu
    delete_action = staticmethod(actions.delete_ivr_menu)


class IvrMenuBulkView(BulkView):
    model = IvrMenu
    bulk_actions = BULK_ACTIONS


# --- AGI applications ---------------------------------------------------------------------------------------------


def _servers(app: AgiApplication) -> str:
    return ", ".join(actions.describe_server(s) for s in app.servers.all())


class AgiApplicationListView(TabsMixin, ObjectListView):
    model = AgiApplication
    filterset_class = AgiApplicationFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True), Column(_("Site"), _site, order_by="site__name"),
               Column(_("Application ID"), "app_id", order_by=True), Column(_("Strategy"), "strategy"),
               Column(_("Servers"), _servers), Column(_("Service code"), _code, order_by="service_code__code"),
               Column(_("Enabled"), "enabled", order_by=True)]
    bulk_actions = BULK_ACTIONS
    bulk_url_name = "media:agiapplication_bulk"

    def get_queryset(self):
        return AgiApplication.objects.select_related("site", "service_code").prefetch_related("servers")


def agi_uris(app: AgiApplication) -> list[str]:
    """What Asterisk's ``AGI()`` is given for each enabled server, in order (the contract's ``VA_AGI_n``)."""
    return [f"agi://{actions.describe_server({'host': s.host, 'port': s.port, 'enabled': True})}/{app.script}"
            f"?appid={app.app_id}&apptype={app.app_type}" for s in app.servers.all() if s.enabled]


class AgiApplicationDetailView(ObjectDetailView):
    model = AgiApplication
    template_name = "media/agiapplication_detail.html"
    fields = [Column(_("Name"), "name"), Column(_("Site"), _site), Column(_("Application type"), "app_type"),
              Column(_("Application ID"), "app_id"), Column(_("Script"), "script"), Column(_("Strategy"), "strategy"),
              Column(_("Service code"), "service_code"), Column(_("Enabled"), "enabled"),
              Column(_("Description"), "description")]

    def get_queryset(self):
        return AgiApplication.objects.select_related("site", "service_code").prefetch_related("servers")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["servers"] = self.object.servers.all()
        ctx["uris"] = agi_uris(self.object)
        return ctx


class AgiApplicationEditView(MediaEditView):
    model = AgiApplication
    form_class = AgiApplicationForm
    create_action = staticmethod(actions.create_agi_application)
    update_action = staticmethod(actions.update_agi_application)


class AgiApplicationDeleteView(ObjectDeleteView):
    model = AgiApplication
    delete_action = staticmethod(actions.delete_agi_application)


class AgiApplicationBulkView(BulkView):
    model = AgiApplication
    bulk_actions = BULK_ACTIONS


# --- conference profiles ------------------------------------------------------------------------------------------


class ConferenceProfileListView(TabsMixin, ObjectListView):
    model = ConferenceProfile
    filterset_class = ConferenceProfileFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True),
               Column(_("Default for site"), "site_default.name", order_by="site_default__name"),
               Column(_("Maximum members"), "max_members", order_by=True),
               Column(_("Announce joins and leaves"), "announce_join_leave"), Column(_("Record"), "record"),
               Column(_("Rooms"), "room_count", order_by="room_count")]

    def get_queryset(self):
        return ConferenceProfile.objects.select_related("site_default").annotate(room_count=Count("rooms")) \
            .order_by("name")


class ConferenceProfileDetailView(ObjectDetailView):
    model = ConferenceProfile
    template_name = "media/conferenceprofile_detail.html"
    fields = [Column(_("Name"), "name"), Column(_("Default for site"), "site_default"),
              Column(_("Maximum members"), "max_members"), Column(_("Announce joins and leaves"), "announce_join_leave"),
              Column(_("Tell the first caller they are alone"), "announce_only_member"), Column(_("Record"), "record"),
              Column(_("Join announcement"), "join_announcement"), Column(_("Description"), "description")]

    def get_queryset(self):
        return ConferenceProfile.objects.select_related("site_default", "join_announcement") \
            .defer("join_announcement__audio")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["rooms"] = self.restrict(self.object.rooms.select_related("site"))
        return ctx


class ConferenceProfileEditView(ObjectEditView):
    model = ConferenceProfile
    form_class = ConferenceProfileForm
    create_action = staticmethod(actions.create_conference_profile)
    update_action = staticmethod(actions.update_conference_profile)


class ConferenceProfileDeleteView(ObjectDeleteView):
    model = ConferenceProfile
    delete_action = staticmethod(actions.delete_conference_profile)


# --- announcements ------------------------------------------------------------------------------------------------


def _duration(a: Announcement) -> str:
    return f"{a.duration_ms / 1000:.1f} s"


class AnnouncementListView(TabsMixin, ObjectListView):
    model = Announcement
    filterset_class = AnnouncementFilterSet
    columns = [Column(_("Name"), "name", link=True, order_by=True), Column(_("Site"), _site, order_by="site__name"),
               Column(_("Duration"), _duration, order_by="duration_ms"),
               Column(_("Uploaded file"), "original_name"), Column(_("Description"), "description"),
               Column(_("Updated"), "updated", order_by=True)]

    def get_queryset(self):
        return Announcement.objects.select_related("site").defer("audio")


class AnnouncementDetailView(ObjectDetailView):
    model = Announcement
    template_name = "media/announcement_detail.html"
    fields = [Column(_("Name"), "name"), Column(_("Site"), _site), Column(_("Duration"), _duration),
              Column(_("Uploaded file"), "original_name"), Column("SHA-256", "sha256"),
              Column(_("Description"), "description"), Column(_("Updated"), "updated")]

    def get_queryset(self):
        return Announcement.objects.select_related("site").defer("audio")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        a = self.object
        ctx["uses"] = [*(gettext("prompt of menu %(menu)s") % {"menu": m} for m in IvrMenu.objects.filter(prompt=a)),
                       *(gettext("join announcement of profile %(profile)s") % {"profile": p}
                         for p in ConferenceProfile.objects.filter(join_announcement=a)),
                       *(str(u) for u in a.uses.select_related("site"))]
        ctx["sound_path"] = sounds.sound_path(a)  # (the address the nodes fetch: listen to what they play)
        return ctx


class AnnouncementEditView(MediaEditView):
    model = Announcement
    form_class = AnnouncementForm
    create_action = staticmethod(actions.create_announcement)
    update_action = staticmethod(actions.update_announcement)


class AnnouncementDeleteView(ObjectDeleteView):
    model = Announcement
    delete_action = staticmethod(actions.delete_announcement)


# --- which announcement each site plays -----------------------------------------------------------------------


class SiteAnnouncementListView(TabsMixin, ObjectListView):
    model = SiteAnnouncement
    filterset_class = SiteAnnouncementFilterSet
    columns = [Column(_("Site"), lambda r: r.site.name if r.site_id else gettext("every site (estate default)"),
                      link=True, order_by="site__name"),
               Column(_("Purpose"), "purpose", order_by=True),
               Column(_("Announcement"), "announcement.name", order_by="announcement__name")]

    def get_queryset(self):
        return SiteAnnouncement.objects.select_related("site", "announcement").defer("announcement__audio")


class SiteAnnouncementDetailView(ObjectDetailView):
    model = SiteAnnouncement
    fields = [Column(_("Site"), lambda r: r.site or gettext("every site (estate default)")),
              Column(_("Purpose"), "purpose"), Column(_("Announcement"), "announcement")]

    def get_queryset(self):
        return SiteAnnouncement.objects.select_related("site", "announcement").defer("announcement__audio")


class SiteAnnouncementEditView(MediaEditView):
    model = SiteAnnouncement
    form_class = SiteAnnouncementForm
    create_action = staticmethod(actions.create_site_announcement)
    update_action = staticmethod(actions.update_site_announcement)


class SiteAnnouncementDeleteView(ObjectDeleteView):
    model = SiteAnnouncement
    delete_action = staticmethod(actions.delete_site_announcement)
