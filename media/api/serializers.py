"""The media applications over the API. A menu's options and open hours and an AGI application's servers are
nested lists, written with their object in one request (the list given replaces the stored one; a PATCH that
leaves one out keeps it)."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers


from .. import sounds
from ..models import (AgiApplication, AgiServer, Announcement, ConferenceProfile, ConferenceRoom, IvrMenu,
                      MenuHours, MenuOption, SiteAnnouncement)

SOUND = {"queryset": Announcement.objects.defer("audio")}  # (picked by id: no need to read megabytes of audio)
SERVICE_CODE_HELP = "An application code (kind 'application') that reaches it directly; one object per code."


class ConferenceProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConferenceProfile
        fields = ["id", "name", "site_default", "max_members", "announce_join_leave", "announce_only_member",
                  "record", "join_announcement", "description", "created", "updated"]
        read_only_fields = ["created", "updated"]
        extra_kwargs = {"join_announcement": SOUND}


class ConferenceRoomSerializer(serializers.ModelSerializer):
    """The PIN goes in, never comes out: ``has_pin`` says whether one is asked."""

    has_pin = serializers.SerializerMethodField()

    class Meta:
        model = ConferenceRoom
        fields = ["id", "site", "number", "name", "pin", "has_pin", "profile", "service_code", "enabled",
                  "description", "created", "updated"]
        read_only_fields = ["created", "updated"]
        extra_kwargs = {"pin": {"write_only": True}, "service_code": {"help_text": SERVICE_CODE_HELP}}

    def get_has_pin(self, room: ConferenceRoom) -> bool:
        return bool(room.pin)


class MenuOptionSerializer(serializers.ModelSerializer):
    key = serializers.RegexField(r"^([0-9*#]|timeout|invalid)\Z", max_length=8,
                                 help_text="0-9, * or #, or timeout / invalid.")

    class Meta:
        model = MenuOption
        fields = ["key", "action", "value", "target_menu", "room", "service_code", "agi"]
        extra_kwargs = {"value": {"help_text": "extension / voicemail: an extension of the estate; number: the "
                                               "external number. Only the target the action needs is kept."}}


class MenuHoursSerializer(serializers.ModelSerializer):
    class Meta:
        model = MenuHours
        fields = ["weekday", "opens", "closes"]


class IvrMenuSerializer(serializers.ModelSerializer):
    options = MenuOptionSerializer(many=True, required=False)
    hours = MenuHoursSerializer(many=True, required=False,
                                help_text="Open hours in the site's time zone (weekday 0 = Monday); empty: always "
                                          "open.")

    class Meta:
        model = IvrMenu
        fields = ["id", "site", "name", "prompt", "prompt_sound", "timeout", "attempts", "after_hours_menu",
                  "service_code", "enabled", "description", "options", "hours", "created", "updated"]
        read_only_fields = ["created", "updated"]
        extra_kwargs = {"service_code": {"help_text": SERVICE_CODE_HELP}, "prompt": SOUND}

    def action_kwargs(self, data: dict[str, Any]) -> dict[str, Any]:
        for name in ("options", "hours"):
            if name in data:
                data[name] = [dict(item) for item in data[name]]
        return data


class AgiServerSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgiServer
        fields = ["host", "port", "enabled"]


class AgiApplicationSerializer(serializers.ModelSerializer):
    servers = AgiServerSerializer(many=True, required=False,
                                  help_text="FastAGI servers in the order they are tried (failover) or shared.")

    class Meta:
        model = AgiApplication
        fields = ["id", "name", "site", "app_type", "app_id", "script", "strategy", "service_code", "enabled",
                  "description", "servers", "created", "updated"]
        read_only_fields = ["created", "updated"]
        extra_kwargs = {"service_code": {"help_text": SERVICE_CODE_HELP}}

    def action_kwargs(self, data: dict[str, Any]) -> dict[str, Any]:
        if "servers" in data:
            data["servers"] = [dict(item) for item in data["servers"]]
        return data


class AnnouncementSerializer(serializers.ModelSerializer):
    """Metadata as JSON; the sound goes in as ``audio`` in a multipart body (converted to WAV 8 kHz mono) and
    comes out at ``audio_url`` (what the nodes fetch)."""

    audio = serializers.FileField(write_only=True, required=False,
                                  help_text="The sound file (multipart/form-data): WAV, or MP3/OGG/FLAC where the "
                                            "portal has sox. Required on create.")
    audio_url = serializers.SerializerMethodField()

    class Meta:
        model = Announcement
        fields = ["id", "name", "site", "description", "audio", "audio_url", "duration_ms", "sha256",
                  "original_name", "created", "updated"]
        read_only_fields = ["duration_ms", "sha256", "original_name", "created", "updated"]

    def get_audio_url(self, announcement: Announcement) -> str:
        return sounds.sound_url(announcement)

    def action_kwargs(self, data: dict[str, Any]) -> dict[str, Any]:
        upload = data.pop("audio", None)
        if upload is not None or self.instance is None:
            data["upload"] = upload
        return data


class SiteAnnouncementSerializer(serializers.ModelSerializer):
    class Meta:
        model = SiteAnnouncement
        fields = ["id", "site", "purpose", "announcement"]
        extra_kwargs = {"site": {"help_text": "Empty: the estate's default for the purpose."}, "announcement": SOUND}
        validators = []  # (the action checks the (site, purpose) constraints, with the other rules)
