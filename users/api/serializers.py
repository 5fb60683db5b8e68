from __future__ import annotations

from django.utils.translation import gettext
from rest_framework import serializers

from voipadmin import scope

from .. import blf
from ..models import MAX_MONITORED_EXTENSIONS, SipUser


class MonitoredExtensionSerializer(serializers.Serializer):
    """One BLF key. ``label`` reads as the monitored user's display name when none was set (a site-limited
    reader gets the extension instead of another site's user's name); written equal to that name, it is stored
    empty and follows renames."""

    position = serializers.IntegerField(min_value=1, max_value=MAX_MONITORED_EXTENSIONS, required=False,
                                        help_text="Button number, 1..N. On write: omit it everywhere (the list's "
                                                  "order) or give every key a different one (sorted by it).")
    extension = serializers.IntegerField(min_value=1, max_value=9_999_999_999,
                                         help_text="An extension of the estate (any site), not the user's own.")
    label = serializers.CharField(required=False, allow_blank=True, max_length=blf.LABEL_MAX,
                                  help_text="Empty: the monitored user's display name.")

    def validate_label(self, value: str) -> str:
        value = value.strip()
        if value and (problem := blf.label_problem(value)):
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs: dict) -> dict:
        if "extension" not in attrs:  # (a PATCH makes nested fields optional too; a key is nothing without it)
            raise serializers.ValidationError({"extension": [self.fields["extension"].error_messages["required"]]})
        return attrs

    def to_representation(self, key) -> dict:
        request = self.context.get("request")
        site_ids = scope.site_scope(request.user) if request is not None else None
        return {"position": key.position, "extension": key.monitored.extension,
                "label": blf.shown_label(key, site_ids)}


class MonitoredExtensionsField(serializers.ListSerializer):
    """The whole list: replaced on write (PUT or PATCH that sends it), as ``[(extension, label), ...]``."""

    def to_internal_value(self, data):
        items = super().to_internal_value(data)
        given = [item.get("position") for item in items]
        if any(p is not None for p in given):
            if None in given or sorted(given) != list(range(1, len(items) + 1)):
                raise serializers.ValidationError(gettext(
                    "Give every key a position, 1 to %(count)d, each once — or give none (the list's order).")
                    % {"count": len(items)})
            items = sorted(items, key=lambda item: item["position"])
        return [(item["extension"], item.get("label", "")) for item in items]


class SipUserSerializer(serializers.ModelSerializer):
    """A SIP user. Secrets go in, never come out — except a password or PIN the server just issued.

    ``password`` and ``voicemail_pin`` are write-only. The answer to a create (or to an update
    that had to issue a new password, e.g. a new extension) carries ``new_password`` and
    ``new_voicemail_pin`` once; every other answer has them null. The digest hashes never leave.
    """

    password = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                     style={"input_type": "password"},
                                     help_text="SIP password; generated when omitted on create.")
    voicemail_pin = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=80,
                                          help_text="Generated when voicemail is on and none is given.")
    new_password = serializers.SerializerMethodField(
        help_text="Only in the answer that issued it (create, or an update that needed a new one).")
    new_voicemail_pin = serializers.SerializerMethodField(help_text="Only in the answer that issued it.")
    monitored_extensions = MonitoredExtensionsField(
        child=MonitoredExtensionSerializer(), required=False, max_length=MAX_MONITORED_EXTENSIONS,
        help_text="BLF keys in button order. Sent, it replaces the whole list ([] removes every key); "
                  "omitted, the keys stay. Phones subscribe to each key's extension at Kamailio "
                  "(see GET /api/v1/users/{id}/blf/).")

    class Meta:
        model = SipUser
        fields = ["id", "extension", "name", "email", "site", "enabled", "caller_id", "nat", "codecs",
                  "voicemail_enabled", "voicemail_email", "monitored_extensions", "password", "voicemail_pin",
                  "new_password", "new_voicemail_pin", "created", "updated"]
        read_only_fields = ["created", "updated"]

    def get_new_password(self, user) -> str | None:
        return getattr(user, "new_password", None)

    def get_new_voicemail_pin(self, user) -> str | None:
        return getattr(user, "new_voicemail_pin", None)


class PasswordResetSerializer(serializers.Serializer):
    password = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=False,
                                     help_text="Omit to have one generated.")


class PasswordIssuedSerializer(serializers.Serializer):
    password = serializers.CharField(help_text="The new SIP password; shown this once.")


class PinResetSerializer(serializers.Serializer):
    pin = serializers.CharField(required=False, allow_blank=True, max_length=80, write_only=True,
                                help_text="Omit to have one generated.")


class PinIssuedSerializer(serializers.Serializer):
    voicemail_pin = serializers.CharField(help_text="The new voicemail PIN; shown this once.")


class BlfKeySerializer(MonitoredExtensionSerializer):
    """A key as a phone's provisioning needs it: what to SUBSCRIBE to (``Event: dialog``) at Kamailio."""

    uri = serializers.CharField(read_only=True, help_text="The presentity: sip:<extension>@<its site's SIP domain>.")

    def to_representation(self, key) -> dict:
        return {**super().to_representation(key), "uri": blf.presentity_uri(key.monitored)}


class BlfSerializer(serializers.Serializer):
    """A user's BLF keys for a phone provisioning system (read-only)."""

    id = serializers.IntegerField(read_only=True)
    extension = serializers.IntegerField(read_only=True)
    sip_domain = serializers.CharField(read_only=True, help_text="The phone's own SIP domain (its account).")
    keys = BlfKeySerializer(many=True, read_only=True, source="monitored_extensions",
                            help_text="In button order. One SUBSCRIBE per key: Kamailio's resource lists are not "
                                      "used.")
