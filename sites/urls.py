from django.urls import path

from voipadmin.views import crud_urls

from . import views

app_name = "sites"

urlpatterns = [
    *crud_urls("sites", "site", views.SiteListView, views.SiteDetailView, views.SiteEditView,
               views.SiteDeleteView),
    *crud_urls("nodes/asterisk", "asterisknode", views.AsteriskNodeListView, views.AsteriskNodeDetailView,
               views.AsteriskNodeEditView, views.AsteriskNodeDeleteView),
    path("nodes/asterisk/<int:pk>/drain/", views.AsteriskNodeDrainView.as_view(), name="asterisknode_drain"),
    *crud_urls("nodes/kamailio", "kamailionode", views.KamailioNodeListView, views.KamailioNodeDetailView,
               views.KamailioNodeEditView, views.KamailioNodeDeleteView),
]
