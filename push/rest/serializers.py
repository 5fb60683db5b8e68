from rest_framework import serializers

from ..delivery import held_reason
from ..models import PushJob


class PushJobSerializer(serializers.ModelSerializer):
    node = serializers.SerializerMethodField(help_text="Id of the Kamailio or Asterisk node (null once deleted).")
    held = serializers.SerializerMethodField(help_text='Why a pending job is not moving, e.g. "held: live reload off".')

    class Meta:
        model = PushJob
        fields = ["id", "node_kind", "node", "node_name", "command", "state", "held", "requests", "reasons",
                  "attempts", "last_error", "created", "updated", "next_attempt_at", "sent_at"]
        read_only_fields = fields

    def get_node(self, job: PushJob) -> int | None:
        return job.node_id

    def get_held(self, job: PushJob) -> str:
        return held_reason(job)


class RetryFailedSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="How many failed jobs were put back to pending.")
    jobs = PushJobSerializer(many=True)
