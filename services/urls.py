from django.urls import path

from voipadmin.views import crud_urls

from . import views

app_name = "services"

urlpatterns = [
    path("", views.ServiceCodeListView.as_view(), name="index"),
    path("estate-check/", views.EstateCheckView.as_view(), name="estate_check"),
    path("trace/", views.TraceView.as_view(), name="trace"),
    *crud_urls("codes", "servicecode", views.ServiceCodeListView, views.ServiceCodeDetailView,
               views.ServiceCodeEditView, views.ServiceCodeDeleteView),
    *crud_urls("dispatcher-sets", "dispatcherset", views.DispatcherSetListView, views.DispatcherSetDetailView,
               views.DispatcherSetEditView, views.DispatcherSetDeleteView),
    *crud_urls("ddis", "inboundnumber", views.InboundNumberListView, views.InboundNumberDetailView,
               views.InboundNumberEditView, views.InboundNumberDeleteView),
]
