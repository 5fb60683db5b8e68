from __future__ import annotations

from rest_framework import serializers

from ..models import SipUser


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

    class Meta:
        model = SipUser
        fields = ["id", "extension", "name", "email", "site", "enabled", "caller_id", "nat", "codecs",
                  "voicemail_enabled", "voicemail_email", "password", "voicemail_pin", "new_password",
                  "new_voicemail_pin", "created", "updated"]
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
