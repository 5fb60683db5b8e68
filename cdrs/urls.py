from django.urls import path

from . import views

app_name = "cdrs"

urlpatterns = [
    path("", views.CdrListView.as_view(), name="cdr_list"),
]
