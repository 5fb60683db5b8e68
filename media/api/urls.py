"""This app's routes, registered on the shared /api/v1/ router by voipadmin/api_urls.py."""
from .views import (AgiApplicationViewSet, AnnouncementViewSet, ConferenceProfileViewSet, ConferenceRoomViewSet,
                    IvrMenuViewSet, SiteAnnouncementViewSet)

routes = [
    ("conference-profiles", ConferenceProfileViewSet, "conferenceprofile"),
    ("conference-rooms", ConferenceRoomViewSet, "conferenceroom"),
    ("ivr-menus", IvrMenuViewSet, "ivrmenu"),
    ("agi-applications", AgiApplicationViewSet, "agiapplication"),
    ("announcements", AnnouncementViewSet, "announcement"),
    ("site-announcements", SiteAnnouncementViewSet, "siteannouncement"),
]
