from __future__ import annotations

from django.utils.translation import gettext
from rest_framework import serializers

from sites.models import AsteriskNode

from ..models import DispatcherDestination, DispatcherSet, InboundNumber, ServiceCode


class DispatcherDestinationSerializer(serializers.ModelSerializer):
    node = serializers.PrimaryKeyRelatedField(queryset=AsteriskNode.objects.all())

    class Meta:
        model = DispatcherDestination
        fields = ["node", "priority", "weight", "flags", "attrs", "max_calls"]


class DispatcherSetSerializer(serializers.ModelSerializer):
    destinations = DispatcherDestinationSerializer(many=True, required=False)

    class Meta:
        model = DispatcherSet
        fields = ["id", "setid", "name", "algorithm", "description", "destinations", "created", "updated"]
        read_only_fields = ["created", "updated"]

    def validate_destinations(self, destinations):
        nodes = [d["node"].pk for d in destinations]
        if len(nodes) != len(set(nodes)):
            raise serializers.ValidationError(gettext("A node is listed twice."))
        return destinations


class ServiceCodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceCode
        fields = ["id", "code", "name", "kind", "route_to", "dispatcher_set", "node", "announcement", "parameter",
                  "enabled", "description", "created", "updated"]
        read_only_fields = ["created", "updated"]
        # Clashes (equal, prefix, extension) are judged by the action, whose message names the other code;
        # DRF's own unique check would answer first with a vaguer one. (Format and uniqueness are still
        # enforced: the action validates the model before saving.)
        extra_kwargs = {"code": {"validators": []}}


class InboundNumberSerializer(serializers.ModelSerializer):
    class Meta:
        model = InboundNumber
        fields = ["id", "number", "trunk", "target", "user", "service_code", "enabled", "description", "created",
                  "updated"]
        read_only_fields = ["created", "updated"]
