"""Push jobs over the API: read them, and "retry now" / "retry all failed" like the UI."""
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from voipadmin.api.viewsets import EstateReadOnlyViewSet, call_action

from .. import actions
from ..delivery import with_queue_state
from ..filtersets import PushJobFilterSet
from ..models import PushJob
from .serializers import PushJobSerializer, RetryFailedSerializer


class PushJobViewSet(EstateReadOnlyViewSet):
    queryset = with_queue_state(PushJob.objects.select_related("kamailio_node", "asterisk_node"))
    serializer_class = PushJobSerializer
    filterset_class = PushJobFilterSet
    ordering_fields = ["id", "created", "updated", "state", "attempts", "next_attempt_at"]

    @extend_schema(request=None, responses=PushJobSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        job = call_action(actions.retry_now, self.get_object(), actor=self.actor())
        return Response(PushJobSerializer(job).data)

    @extend_schema(request=None, responses=RetryFailedSerializer)
    @action(detail=False, methods=["post"], url_path="retry-failed", pagination_class=None)
    def retry_failed(self, request):
        jobs = call_action(actions.retry_all_failed, actor=self.actor())
        return Response(RetryFailedSerializer({"queued": len(jobs), "jobs": jobs}).data)
