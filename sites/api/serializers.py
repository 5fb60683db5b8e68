from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from voipadmin.fields import UNDECRYPTABLE, is_undecryptable

from ..actions import format_ranges, parse_ranges
from ..models import AsteriskNode, KamailioNode, Site


@extend_schema_field({"type": "string", "example": "1000-1999, 5000"})
class ExtensionRangesField(serializers.Field):
    """``"1000-1999, 5000"`` both ways; written as the ``ranges`` the site actions take."""

    def __init__(self, **kwargs):
        super().__init__(source="*", **kwargs)

    def to_representation(self, site: Site) -> str:
        return format_ranges(site)

    def to_internal_value(self, data) -> dict:
        if not isinstance(data, str):
            raise serializers.ValidationError(gettext("Give ranges as text, e.g. \"1000-1999, 5000\"."))
        try:
            return {"ranges": parse_ranges(data)}
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class SiteSerializer(serializers.ModelSerializer):
    extension_ranges = ExtensionRangesField(required=False)

    class Meta:
        model = Site
        fields = ["id", "name", "slug", "kind", "sip_domain", "extension_ranges", "address", "time_zone", "notes",
                  "created", "updated"]
        read_only_fields = ["created", "updated"]


@extend_schema_field({
    "type": "object", "additionalProperties": {"type": "string", "example": UNDECRYPTABLE},
    "description": "The stored secrets the portal's keys cannot decrypt (the keys changed since they were saved), "
                   f"each with {UNDECRYPTABLE!r}: send them again. Empty when every secret is readable.",
    "example": {}})
class UndecryptableSecretsField(serializers.Field):
    """``{"ami_secret": "cannot be decrypted — re-enter it"}``: never the ciphertext, never the secret."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj) -> dict[str, str]:
        return {name: UNDECRYPTABLE for name in self.parent.secret_fields if is_undecryptable(getattr(obj, name))}


class SecretsWriteOnlyMixin:
    """Secrets can be set but are never answered: the response says only whether one is set (and, in
    ``undecryptable_secrets``, which stored ones must be sent again)."""

    secret_fields: tuple[str, ...] = ()

    def action_kwargs(self, data: dict) -> dict:
        if self.instance is not None:
            for name in self.secret_fields:
                if not data.get(name):
                    data.pop(name, None)  # blank or absent on update keeps the stored secret, as in the UI
        return data

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in self.secret_fields:
            data.pop(name, None)
        return data


class AsteriskNodeSerializer(SecretsWriteOnlyMixin, serializers.ModelSerializer):
    secret_fields = ("ami_secret", "ari_password")
    ami_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                       style={"input_type": "password"})
    ari_password = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                         style={"input_type": "password"})
    ami_secret_set = serializers.SerializerMethodField()
    ari_password_set = serializers.SerializerMethodField()
    undecryptable_secrets = UndecryptableSecretsField()

    class Meta:
        model = AsteriskNode
        fields = ["id", "name", "site", "enabled", "host", "sip_port", "ami_host", "ami_port", "ami_username",
                  "ami_secret", "ami_secret_set", "ari_url", "ari_username", "ari_password", "ari_password_set",
                  "undecryptable_secrets", "roles", "draining", "notes", "created", "updated"]
        read_only_fields = ["draining", "created", "updated"]  # (drain/undrain actions set it)

    def get_ami_secret_set(self, node) -> bool:
        return bool(node.ami_secret)

    def get_ari_password_set(self, node) -> bool:
        return bool(node.ari_password)


class KamailioNodeSerializer(SecretsWriteOnlyMixin, serializers.ModelSerializer):
    secret_fields = ("jsonrpc_password",)
    jsonrpc_password = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                             trim_whitespace=False, style={"input_type": "password"})
    jsonrpc_password_set = serializers.SerializerMethodField()
    undecryptable_secrets = UndecryptableSecretsField()

    class Meta:
        model = KamailioNode
        fields = ["id", "name", "enabled", "sip_address", "jsonrpc_url", "jsonrpc_username", "jsonrpc_password",
                  "jsonrpc_password_set", "undecryptable_secrets", "notes", "created", "updated"]
        read_only_fields = ["created", "updated"]

    def get_jsonrpc_password_set(self, node) -> bool:
        return bool(node.jsonrpc_password)
