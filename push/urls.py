from django.urls import path

from . import views

app_name = "push"

urlpatterns = [
    path("jobs/", views.PushJobListView.as_view(), name="pushjob_list"),
    path("jobs/retry-failed/", views.PushJobRetryAllFailedView.as_view(), name="pushjob_retry_all_failed"),
    path("jobs/<int:pk>/", views.PushJobDetailView.as_view(), name="pushjob_detail"),
    path("jobs/<int:pk>/retry/", views.PushJobRetryView.as_view(), name="pushjob_retry"),
]
