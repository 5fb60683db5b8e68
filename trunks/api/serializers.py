from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sites.api.serializers import SecretsWriteOnlyMixin, UndecryptableSecretsField

from ..actions import parse_trunk_names
from ..models import E1Trunk, ItspTrunk, OutboundRoute, Trunk


class TrunkSerializer(serializers.ModelSerializer):
    """Every trunk, either kind, read-only; ``url`` is the trunk on its kind's (read-write) endpoint."""

    url = serializers.SerializerMethodField()

    class Meta:
        model = Trunk
        fields = ["id", "name", "kind", "enabled", "description", "url", "created", "updated"]
        read_only_fields = fields

    def get_url(self, trunk) -> str:
        return reverse(f"api:{trunk.kind}trunk-detail", args=[trunk.pk])


class E1TrunkSerializer(serializers.ModelSerializer):
    class Meta:
        model = E1Trunk
        fields = ["id", "name", "kind", "enabled", "asterisk_node", "span", "channels", "group", "signalling",
                  "switch_type", "role", "dial_string", "description", "created", "updated"]
        read_only_fields = ["kind", "created", "updated"]


class ItspTrunkSerializer(SecretsWriteOnlyMixin, serializers.ModelSerializer):
    secret_fields = ("auth_password",)
    auth_password = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                          style={"input_type": "password"})
    auth_password_set = serializers.SerializerMethodField()
    undecryptable_secrets = UndecryptableSecretsField()

    class Meta:
        model = ItspTrunk
        fields = ["id", "name", "kind", "enabled", "host", "port", "transport", "auth_mode", "ip_addresses",
                  "address_group", "username", "auth_username", "auth_password", "auth_password_set",
                  "undecryptable_secrets", "realm",
                  "proxy", "expires", "caller_id_presentation", "caller_id_number", "description", "created",
                  "updated"]
        read_only_fields = ["kind", "created", "updated"]

    def get_auth_password_set(self, trunk) -> bool:
        return bool(trunk.auth_password)

    def action_kwargs(self, data: dict) -> dict:
        if self.instance is not None and not data.get("auth_password"):
            data.pop("auth_password", None)  # blank or absent on update keeps the stored password
        return data


@extend_schema_field({"type": "array", "items": {"type": "string"}, "example": ["itsp-carrier", "e1-pstn"]})
class TrunkOrderField(serializers.Field):
    """Trunk names in the order they are tried, both ways; written as the ``trunks`` the route actions take."""

    def __init__(self, **kwargs):
        super().__init__(source="*", **kwargs)

    def to_representation(self, route: OutboundRoute) -> list[str]:
        return [link.trunk.name for link in route.route_trunks.all()]

    def to_internal_value(self, data) -> dict:
        if not isinstance(data, list) or not all(isinstance(n, str) for n in data):
            raise serializers.ValidationError(gettext('Give the trunk names as a list, e.g. ["itsp-carrier", '
                                                      '"e1-pstn"].'))
        if not data:
            raise serializers.ValidationError(gettext("A route needs at least one trunk."))
        try:
            return {"trunks": parse_trunk_names("\n".join(data))}
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class OutboundRouteSerializer(serializers.ModelSerializer):
    trunks = TrunkOrderField(help_text=_("Trunk names in the order they are tried."))

    class Meta:
        model = OutboundRoute
        fields = ["id", "name", "kind", "enabled", "pattern", "priority", "strip", "prepend", "trunks",
                  "description", "created", "updated"]
        read_only_fields = ["created", "updated"]
