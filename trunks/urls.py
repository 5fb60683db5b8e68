from django.urls import path

from voipadmin.views import crud_urls

from . import views

app_name = "trunks"

urlpatterns = [
    path("", views.TrunkListView.as_view(), name="index"),
    path("all/", views.TrunkListView.as_view(), name="trunk_list"),
    path("<int:pk>/", views.TrunkRedirectView.as_view(), name="trunk_detail"),
    path("all/bulk/<slug:action>/", views.TrunkBulkView.as_view(), name="trunk_bulk"),
    *crud_urls("e1", "e1trunk", views.E1TrunkListView, views.E1TrunkDetailView, views.E1TrunkEditView,
               views.E1TrunkDeleteView),
    *crud_urls("itsp", "itsptrunk", views.ItspTrunkListView, views.ItspTrunkDetailView, views.ItspTrunkEditView,
               views.ItspTrunkDeleteView),
    *crud_urls("routes", "outboundroute", views.OutboundRouteListView, views.OutboundRouteDetailView,
               views.OutboundRouteEditView, views.OutboundRouteDeleteView),
]
