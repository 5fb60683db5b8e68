from __future__ import annotations

import datetime

from rest_framework import serializers

from ..models import CallRecord


class CdrSerializer(serializers.ModelSerializer):
    """A call record as Asterisk (or, for a call no Asterisk saw, Kamailio) wrote it, plus the site (slug) and
    trunk (name) it is attributed to; ``source`` says which system wrote it."""

    site = serializers.SerializerMethodField()
    trunk = serializers.SerializerMethodField()

    class Meta:
        model = CallRecord
        fields = ["id", "start", "answer", "end", "src", "dst", "clid", "dcontext", "channel", "dstchannel",
                  "lastapp", "lastdata", "duration", "billsec", "disposition", "amaflags", "accountcode",
                  "peeraccount", "userfield", "uniqueid", "linkedid", "sequence", "source", "site", "trunk"]
        read_only_fields = fields

    TIME_FIELDS = ("start", "answer", "end")

    def to_representation(self, cdr) -> dict:
        """Same output as the declared fields, without DRF's per-field machinery (100-row pages)."""
        data = {}
        for name in self.Meta.fields[:-2]:
            value = getattr(cdr, name)
            if name in self.TIME_FIELDS and value is not None:
                value = value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
            data[name] = value
        data["site"], data["trunk"] = self.get_site(cdr), self.get_trunk(cdr)
        return data

    def get_site(self, cdr) -> str | None:
        return self.context.get("site_names", {}).get(getattr(cdr, "site_id", None))

    def get_trunk(self, cdr) -> str | None:
        return self.context.get("trunk_names", {}).get(getattr(cdr, "trunk_id", None))


class TotalsRowSerializer(serializers.Serializer):
    name = serializers.CharField(allow_null=True, help_text="Site slug or trunk name; null = not attributed.")
    calls = serializers.IntegerField()
    answered = serializers.IntegerField()
    duration = serializers.IntegerField(help_text="Seconds.")
    billsec = serializers.IntegerField(help_text="Billable seconds.")


class TotalsSerializer(serializers.Serializer):
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    sites = TotalsRowSerializer(many=True)
    trunks = TotalsRowSerializer(many=True)
