from django.db.models import Prefetch
from django.utils.translation import gettext
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

from voipadmin import scope
from voipadmin.api.viewsets import EstateViewSet

from .. import actions
from ..filtersets import (AgiApplicationFilterSet, AnnouncementFilterSet, ConferenceProfileFilterSet,
                          ConferenceRoomFilterSet, IvrMenuFilterSet, SiteAnnouncementFilterSet)
from ..models import (AgiApplication, Announcement, ConferenceProfile, ConferenceRoom, IvrMenu, MenuOption,
                      SiteAnnouncement)
from .serializers import (AgiApplicationSerializer, AnnouncementSerializer, ConferenceProfileSerializer,
                          ConferenceRoomSerializer, IvrMenuSerializer, SiteAnnouncementSerializer)


class SiteOwnedViewSet(EstateViewSet):
    """A delegation's token or account creates objects on its own sites, never estate-wide ones. (Checked on
    the request, not by changing the serializer: the schema is the same for every caller.)"""

    def action_kwargs(self, serializer):
        data = super().action_kwargs(serializer)
        if scope.is_site_limited(self.request.user):
            site = data["site"] if "site" in data else getattr(serializer.instance, "site", None)
            if site is None:
                raise serializers.ValidationError({"site": [gettext("Choose one of your sites.")]})
        return data


class ConferenceProfileViewSet(EstateViewSet):
    queryset = ConferenceProfile.objects.all()
    serializer_class = ConferenceProfileSerializer
    filterset_class = ConferenceProfileFilterSet
    ordering_fields = ["name", "created"]
    create_action = staticmethod(actions.create_conference_profile)
    update_action = staticmethod(actions.update_conference_profile)
    delete_action = staticmethod(actions.delete_conference_profile)


class ConferenceRoomViewSet(SiteOwnedViewSet):
    queryset = ConferenceRoom.objects.all()
    serializer_class = ConferenceRoomSerializer
    filterset_class = ConferenceRoomFilterSet
    ordering_fields = ["number", "name", "created"]
    create_action = staticmethod(actions.create_conference_room)
    update_action = staticmethod(actions.update_conference_room)
    delete_action = staticmethod(actions.delete_conference_room)


class IvrMenuViewSet(SiteOwnedViewSet):
    """Options and hours are lists of objects: only JSON carries them faithfully (as dispatcher sets)."""

    parser_classes = [JSONParser]
    queryset = IvrMenu.objects.prefetch_related(Prefetch("options", queryset=MenuOption.objects.order_by("key")),
                                                "hours")
    serializer_class = IvrMenuSerializer
    filterset_class = IvrMenuFilterSet
    ordering_fields = ["name", "created"]
    create_action = staticmethod(actions.create_ivr_menu)
    update_action = staticmethod(actions.update_ivr_menu)
    delete_action = staticmethod(actions.delete_ivr_menu)


class AgiApplicationViewSet(SiteOwnedViewSet):
    parser_classes = [JSONParser]
    queryset = AgiApplication.objects.prefetch_related("servers")
    serializer_class = AgiApplicationSerializer
    filterset_class = AgiApplicationFilterSet
    ordering_fields = ["name", "created"]
    create_action = staticmethod(actions.create_agi_application)
    update_action = staticmethod(actions.update_agi_application)
    delete_action = staticmethod(actions.delete_agi_application)


class AnnouncementViewSet(SiteOwnedViewSet):
    """JSON (or a form) for the metadata; multipart/form-data to upload a sound (``audio``)."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]
    queryset = Announcement.objects.defer("audio")
    serializer_class = AnnouncementSerializer
    filterset_class = AnnouncementFilterSet
    ordering_fields = ["name", "created", "updated"]
    create_action = staticmethod(actions.create_announcement)
    update_action = staticmethod(actions.update_announcement)
    delete_action = staticmethod(actions.delete_announcement)


class SiteAnnouncementViewSet(SiteOwnedViewSet):
    queryset = SiteAnnouncement.objects.all()
    serializer_class = SiteAnnouncementSerializer
    filterset_class = SiteAnnouncementFilterSet
    ordering_fields = ["purpose"]
    create_action = staticmethod(actions.create_site_announcement)
    update_action = staticmethod(actions.update_site_announcement)
    delete_action = staticmethod(actions.delete_site_announcement)
