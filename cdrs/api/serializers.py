from __future__ import annotations

from rest_framework import serializers

from ..models import Cdr


class CdrSerializer(serializers.ModelSerializer):
    """A CDR as Asterisk wrote it, plus the site (slug) and trunk (name) it is attributed to."""

    site = serializers.SerializerMethodField()
    trunk = serializers.SerializerMethodField()

    class Meta:
        model = Cdr
        fields = ["id", "start", "answer", "end", "src", "dst", "clid", "dcontext", "channel", "dstchannel",
                  "lastapp", "lastdata", "duration", "billsec", "disposition", "amaflags", "accountcode",
                  "peeraccount", "userfield", "uniqueid", "linkedid", "sequence", "site", "trunk"]
        read_only_fields = fields

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
