"""The view ``call_record``: Asterisk's ``cdr`` and Kamailio's ``acc_cdrs`` as one list of calls (and ``cel``).

Why a view (and not Kamailio writing into ``cdr``, nor two lists merged in Python):

* each system keeps writing its own table in its own schema — ``cdr`` exactly as cdr_pgsql writes it,
  ``acc_cdrs`` as Kamailio's acc module does (its columns + the ``cdr_extra`` ones, kamailio/0002);
* the API keeps one queryset, so filters, keyset pages on ``(start, id)``, totals and the streamed
  CSV stay single SQL statements: PostgreSQL pushes every filter into both branches of the
  ``UNION ALL`` and merges two ``(start, id)`` index scans (Merge Append), so a page still reads
  ~100 index entries whatever the depth;
* ``acc_cdrs.cdr_id`` takes its default from ``cdr``'s own sequence, so an id is unique across both
  sources and the keyset stays a total order.

Kamailio's rows are shown in Asterisk's terms (see ``cdrs.models.CallRecord``). Asterisk's table ``cel``
(cel_pgsql) is created here too: a conference leg's end, duration and billsec come from its channel events,
because Asterisk's CDR stops counting when the caller enters the conference bridge. Nothing is counted
twice because Kamailio only records the calls it relays straight to a registered phone, from a phone or
from a carrier (route[CALL_RECORD] in deploy/kamailio/kamailio.cfg), which never reach an Asterisk, while
every call that does reach one is left to Asterisk's CDR.
"""
from __future__ import annotations

from django.db import migrations, models

import cdrs.fields

ASTERISK_COLUMNS = ["accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
                    "start", "answer", '"end"', "duration", "billsec", "disposition", "amaflags", "userfield",
                    "uniqueid", "linkedid", "peeraccount", "sequence"]

# Asterisk's CDR dispositions for a call that was not answered, from the final SIP reply: busy, a
# refusal or server failure (FAILED; Asterisk says CONGESTION only with its congestion option), else
# NO ANSWER (timeouts, 480, 487 cancelled, 603 declined, or no reply at all).
_DISPOSITION = """CASE WHEN {answered} THEN 'ANSWERED'
              WHEN a.sip_code IN ('486', '600') THEN 'BUSY'
              WHEN a.sip_code IN ('403', '404', '410', '484', '604') OR a.sip_code LIKE '5%' THEN 'FAILED'
              ELSE 'NO ANSWER' END"""


# Asterisk's CDR of a conference leg ends when the caller enters the ConfBridge bridge (Asterisk 22.10.1:
# 6 s in a room, billsec 2 — the join prompts). The leg's talk time is the channel's ANSWER → HANGUP in
# cel; only differences of one channel's events are used, so cel's clock zone does not matter.
_CONF_LEG = "c.lastapp = 'ConfBridge' AND c.answer IS NOT NULL"
_CONF_TALK = ("(SELECT h.eventtime - a.eventtime FROM cel a JOIN cel h ON h.uniqueid = a.uniqueid "
              "AND h.eventtype = 'HANGUP' WHERE a.uniqueid = c.uniqueid AND a.eventtype = 'ANSWER' "
              "ORDER BY a.eventtime, h.eventtime LIMIT 1)")
_CONF_SECONDS = f"round(extract(epoch FROM {_CONF_TALK}))::integer"
ASTERISK_POSTGRES = {
    '"end"': f"CASE WHEN {_CONF_LEG} THEN COALESCE(date_trunc('second', c.answer + {_CONF_TALK}), c.\"end\") "
             f"ELSE c.\"end\" END",
    "duration": f"CASE WHEN {_CONF_LEG} THEN COALESCE(c.duration - c.billsec + {_CONF_SECONDS}, c.duration) "
                f"ELSE c.duration END",
    "billsec": f"CASE WHEN {_CONF_LEG} THEN COALESCE({_CONF_SECONDS}, c.billsec) ELSE c.billsec END",
}


def view_sql(vendor: str) -> str:
    if vendor == "postgresql":
        varchar, integer, ts = "::varchar", "::integer", "::timestamp"
        answered = "a.answer_time >= a.start_time"
        duration = "round(a.duration)::integer"
        # whole seconds from answer to end, never more than the (millisecond-exact) duration: Kamailio writes
        # start, answer and end truncated to the second
        billsec = (f"CASE WHEN {answered} THEN GREATEST(0, LEAST({duration}, "
                   f"extract(epoch FROM a.end_time - a.answer_time)::integer)) ELSE 0 END")
        record_id = "a.cdr_id"
    elif vendor == "sqlite":
        varchar = integer = ts = ""
        answered = "a.answer_time >= a.start_time"
        duration = "CAST(round(a.duration) AS INTEGER)"
        billsec = (f"CASE WHEN {answered} THEN MAX(0, MIN({duration}, CAST(strftime('%s', a.end_time) AS INTEGER) - "
                   f"CAST(strftime('%s', a.answer_time) AS INTEGER))) ELSE 0 END")
        record_id = "COALESCE(a.cdr_id, -a.id)"  # the embedded portal has no shared sequence (no Kamailio either)
    else:
        raise NotImplementedError(f"call_record is provided for PostgreSQL and SQLite, not {vendor!r}")

    def null(cast: str) -> str:
        return f"CAST(NULL AS {cast[2:]})" if cast else "NULL"

    kamailio = {
        "accountcode": f"a.site{varchar}", "src": f"a.src_user{varchar}", "dst": f"a.dst_user{varchar}",
        "dcontext": null(varchar), "clid": f"a.src_user{varchar}", "channel": null(varchar),
        "dstchannel": null(varchar), "lastapp": null(varchar), "lastdata": null(varchar),
        "start": f"a.start_time{ts}", "answer": f"CASE WHEN {answered} THEN a.answer_time END",
        '"end"': f"a.end_time{ts}", "duration": duration, "billsec": billsec,
        "disposition": f"({_DISPOSITION.format(answered=answered)}){varchar}", "amaflags": null(varchar),
        "userfield": null(varchar), "uniqueid": f"a.callid{varchar}", "linkedid": f"a.callid{varchar}",
        "peeraccount": f"a.trunk{varchar}", "sequence": null(integer),
    }
    asterisk = ASTERISK_POSTGRES if vendor == "postgresql" else {}  # the embedded portal has no Asterisk
    asterisk_select = ", ".join(f"{asterisk[c]} AS {c}" if c in asterisk else f"c.{c}" for c in ASTERISK_COLUMNS)
    kamailio_select = ", ".join(f"{kamailio[c]} AS {c}" for c in ASTERISK_COLUMNS)
    return (f"CREATE VIEW call_record AS\n"
            f"SELECT c.id, 'asterisk'{varchar} AS source, {asterisk_select}\n  FROM cdr c\n"
            f"UNION ALL\n"
            f"SELECT {record_id} AS id, 'kamailio'{varchar} AS source, {kamailio_select}\n  FROM acc_cdrs a")


FORWARD_POSTGRES = [
    # every record Kamailio wrote before this migration gets its number too, then new rows by default
    "UPDATE acc_cdrs SET cdr_id = nextval('cdr_id_seq') WHERE cdr_id IS NULL",
    "ALTER TABLE acc_cdrs ALTER COLUMN cdr_id SET DEFAULT nextval('cdr_id_seq')",
    "ALTER TABLE acc_cdrs ALTER COLUMN cdr_id SET NOT NULL",
]
BACKWARD_POSTGRES = [
    "ALTER TABLE acc_cdrs ALTER COLUMN cdr_id DROP NOT NULL",
    "ALTER TABLE acc_cdrs ALTER COLUMN cdr_id DROP DEFAULT",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for sql in FORWARD_POSTGRES:
            schema_editor.execute(sql)
    schema_editor.execute(view_sql(vendor), None)  # None: no placeholders ('5%' is SQL's)


def backward(apps, schema_editor):
    schema_editor.execute("DROP VIEW IF EXISTS call_record")
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD_POSTGRES:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("cdrs", "0002_cdr_id_default"),
        ("kamailio", "0002_acc_cdrs_call_records"),
    ]

    operations = [
        migrations.CreateModel(
            name="Cel",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("eventtype", models.CharField(max_length=30)),
                ("eventtime", cdrs.fields.NaiveDateTimeField()),
                ("userdeftype", models.TextField(blank=True, null=True)),
                ("cid_name", models.TextField(blank=True, null=True)),
                ("cid_num", models.TextField(blank=True, null=True)),
                ("cid_ani", models.TextField(blank=True, null=True)),
                ("cid_rdnis", models.TextField(blank=True, null=True)),
                ("cid_dnid", models.TextField(blank=True, null=True)),
                ("exten", models.TextField(blank=True, null=True)),
                ("context", models.TextField(blank=True, null=True)),
                ("channame", models.TextField(blank=True, null=True)),
                ("appname", models.TextField(blank=True, null=True)),
                ("appdata", models.TextField(blank=True, null=True)),
                ("amaflags", models.IntegerField(blank=True, null=True)),
                ("accountcode", models.TextField(blank=True, null=True)),
                ("peeraccount", models.TextField(blank=True, null=True)),
                ("uniqueid", models.CharField(max_length=150)),
                ("linkedid", models.CharField(blank=True, max_length=150, null=True)),
                ("userfield", models.TextField(blank=True, null=True)),
                ("peer", models.TextField(blank=True, null=True)),
                ("extra", models.TextField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "channel event",
                "db_table": "cel",
                "default_permissions": ("view",),
                "indexes": [models.Index(fields=["uniqueid", "eventtype"], name="cel_uniqueid_eventtype_idx")],
            },
        ),
        migrations.RunPython(forward, backward, elidable=False),
        migrations.CreateModel(
            name="CallRecord",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("accountcode", models.CharField(blank=True, max_length=80, null=True)),
                ("src", models.CharField(blank=True, max_length=80, null=True)),
                ("dst", models.CharField(blank=True, max_length=80, null=True)),
                ("dcontext", models.CharField(blank=True, max_length=80, null=True)),
                ("clid", models.CharField(blank=True, max_length=80, null=True)),
                ("channel", models.CharField(blank=True, max_length=80, null=True)),
                ("dstchannel", models.CharField(blank=True, max_length=80, null=True)),
                ("lastapp", models.CharField(blank=True, max_length=80, null=True)),
                ("lastdata", models.CharField(blank=True, max_length=80, null=True)),
                ("start", cdrs.fields.NaiveDateTimeField(blank=True, null=True)),
                ("answer", cdrs.fields.NaiveDateTimeField(blank=True, null=True)),
                ("end", cdrs.fields.NaiveDateTimeField(blank=True, null=True)),
                ("duration", models.IntegerField(blank=True, null=True)),
                ("billsec", models.IntegerField(blank=True, null=True)),
                ("disposition", models.CharField(blank=True, max_length=45, null=True)),
                ("amaflags", models.CharField(blank=True, max_length=45, null=True)),
                ("userfield", models.CharField(blank=True, max_length=256, null=True)),
                ("uniqueid", models.CharField(blank=True, max_length=150, null=True)),
                ("linkedid", models.CharField(blank=True, max_length=150, null=True)),
                ("peeraccount", models.CharField(blank=True, max_length=80, null=True)),
                ("sequence", models.IntegerField(blank=True, null=True)),
                ("source", models.CharField(choices=[("asterisk", "Asterisk (cdr)"),
                                                     ("kamailio", "Kamailio (acc_cdrs)")], max_length=8)),
            ],
            options={
                "verbose_name": "call record",
                "verbose_name_plural": "call records",
                "db_table": "call_record",
                "ordering": ["-start", "-id"],
                "default_permissions": ("view",),
                "managed": False,
            },
        ),
    ]
