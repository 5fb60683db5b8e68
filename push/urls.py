from django.urls import path, register_converter

from . import views


class NodeKindConverter:
    """``asterisk`` or ``kamailio``: any other kind of node is not an address (404 from the resolver)."""

    regex = "asterisk|kamailio"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


register_converter(NodeKindConverter, "nodekind")

app_name = "push"

urlpatterns = [
    path("jobs/", views.PushJobListView.as_view(), name="pushjob_list"),
    path("jobs/retry-failed/", views.PushJobRetryAllFailedView.as_view(), name="pushjob_retry_all_failed"),
    path("jobs/<int:pk>/", views.PushJobDetailView.as_view(), name="pushjob_detail"),
    path("jobs/<int:pk>/retry/", views.PushJobRetryView.as_view(), name="pushjob_retry"),
    path("nodes/<nodekind:kind>/<int:pk>/", views.NodeQueueView.as_view(), name="node_queue"),
    path("nodes/<nodekind:kind>/<int:pk>/pause/", views.NodeQueuePauseView.as_view(), name="node_queue_pause"),
    path("nodes/<nodekind:kind>/<int:pk>/resume/", views.NodeQueueResumeView.as_view(), name="node_queue_resume"),
    path("nodes/<nodekind:kind>/<int:pk>/cancel/", views.NodeQueueCancelView.as_view(), name="node_queue_cancel"),
    path("nodes/<nodekind:kind>/<int:pk>/push-everything/", views.NodeQueuePushEverythingView.as_view(),
         name="node_queue_push_everything"),
]
