from django.urls import path

from voipadmin.views import crud_urls

from . import views

app_name = "media"

urlpatterns = [
    path("", views.ConferenceRoomListView.as_view(), name="index"),
    *crud_urls("rooms", "conferenceroom", views.ConferenceRoomListView, views.ConferenceRoomDetailView,
               views.ConferenceRoomEditView, views.ConferenceRoomDeleteView),
    path("rooms/bulk/<slug:action>/", views.ConferenceRoomBulkView.as_view(), name="conferenceroom_bulk"),
    *crud_urls("menus", "ivrmenu", views.IvrMenuListView, views.IvrMenuDetailView, views.IvrMenuEditView,
               views.IvrMenuDeleteView),
    path("menus/bulk/<slug:action>/", views.IvrMenuBulkView.as_view(), name="ivrmenu_bulk"),
    *crud_urls("agi", "agiapplication", views.AgiApplicationListView, views.AgiApplicationDetailView,
               views.AgiApplicationEditView, views.AgiApplicationDeleteView),
    path("agi/bulk/<slug:action>/", views.AgiApplicationBulkView.as_view(), name="agiapplication_bulk"),
    *crud_urls("profiles", "conferenceprofile", views.ConferenceProfileListView, views.ConferenceProfileDetailView,
               views.ConferenceProfileEditView, views.ConferenceProfileDeleteView),
    *crud_urls("announcements", "announcement", views.AnnouncementListView, views.AnnouncementDetailView,
               views.AnnouncementEditView, views.AnnouncementDeleteView),
    *crud_urls("site-announcements", "siteannouncement", views.SiteAnnouncementListView,
               views.SiteAnnouncementDetailView, views.SiteAnnouncementEditView, views.SiteAnnouncementDeleteView),
]
