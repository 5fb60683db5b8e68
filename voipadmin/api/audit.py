"""The audit log, read-only: who changed what, from where."""
from __future__ import annotations

from rest_framework import serializers

from voipadmin.filtersets import ChangeLogFilterSet
from voipadmin.models import ChangeLogEntry

from .viewsets import EstateReadOnlyViewSet


class ChangeLogEntrySerializer(serializers.ModelSerializer):
    object_type = serializers.SerializerMethodField()
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ChangeLogEntry
        fields = ["id", "time", "user", "actor", "source", "action", "object_type", "object_id", "object_repr",
                  "message", "changes"]

    def get_object_type(self, entry) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"


class ChangeLogEntryViewSet(EstateReadOnlyViewSet):
    queryset = ChangeLogEntry.objects.select_related("content_type", "user")
    serializer_class = ChangeLogEntrySerializer
    filterset_class = ChangeLogFilterSet
    ordering_fields = ["time", "actor", "action"]
