"""Extra columns on Kamailio's ``acc_cdrs`` for the calls Kamailio relays without an Asterisk.

Kamailio's acc module writes one row per dialog into ``acc_cdrs`` (``cdr_enable``): start, end and
duration are Kamailio's own columns; everything else a call record needs is an *extra* column filled
from acc's ``cdr_extra`` parameter (deploy/kamailio/kamailio.cfg), added to the table exactly as the
acc module's documentation says ("add in db acc table the columns corresponding to each extra data").
The ``version`` row stays 2: the acc module checks it, and Kamailio's own columns are unchanged.

Every extra column is nullable, without a default: acc runs with ``cdr_extra_nullable = 1`` (a value
the script did not set is stored as NULL, never as a string a timestamp column would refuse).

``cdr_id`` is the record's number in the merged list of call records (cdrs/0003 gives it the
``cdr`` table's sequence as default, so Asterisk's and Kamailio's records never share an id).
``tests/kamailio/test_schema.py`` allows exactly these columns and indexes beyond Kamailio's schema.
"""
from __future__ import annotations

from django.db import migrations, models
from django.db.models.expressions import RawSQL

#: column -> PostgreSQL type (SQLite gets the same names with its own spelling of the types)
ACC_CDRS_EXTRA_COLUMNS: dict[str, str] = {
    "src_user": "VARCHAR(64)",     # the caller: a phone's extension (its From user), a carrier's caller ID
    "site": "VARCHAR(64)",         # the call's site slug, as X-VA-Site: the caller's home site (dialplan dpid 4),
                                   # for a carrier's call the site of the user it rings
    "trunk": "VARCHAR(64)",        # a carrier's call: the ITSP trunk it came in by (the address row's tag)
    "dst_user": "VARCHAR(64)",     # the extension the call rang
    "callid": "VARCHAR(255)",      # SIP Call-ID (the record's uniqueid)
    "sip_code": "VARCHAR(3)",      # final reply of a call that was not answered
    "sip_reason": "VARCHAR(128)",
    "answer_time": "TIMESTAMP WITHOUT TIME ZONE",  # when the callee answered (NULL: never)
    "cdr_id": "BIGINT",            # id in the merged call records (cdrs.CallRecord)
}

#: index name -> (unique, columns)
ACC_CDRS_EXTRA_INDEXES: dict[str, tuple[bool, list[str]]] = {
    # keyset pages and periods walk (start_time, cdr_id), like cdr's (start, id)
    "acc_cdrs_start_cdr_id_idx": (False, ["start_time", "cdr_id"]),
    "acc_cdrs_cdr_id_idx": (True, ["cdr_id"]),
    "acc_cdrs_site_idx": (False, ["site", "start_time"]),
    "acc_cdrs_trunk_idx": (False, ["trunk"]),
    "acc_cdrs_src_user_idx": (False, ["src_user", "start_time"]),
    "acc_cdrs_dst_user_idx": (False, ["dst_user", "start_time"]),
    "acc_cdrs_callid_idx": (False, ["callid"]),
}

_SQLITE_TYPES = {"TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP", "BIGINT": "INTEGER"}


def statements(vendor: str) -> list[str]:
    if vendor not in {"postgresql", "sqlite"}:
        raise NotImplementedError(f"Kamailio's schema is provided for PostgreSQL and SQLite, not {vendor!r}")
    result = []
    for column, sql_type in ACC_CDRS_EXTRA_COLUMNS.items():
        if vendor == "postgresql":
            result.append(f"ALTER TABLE acc_cdrs ADD COLUMN IF NOT EXISTS {column} {sql_type}")
        else:
            result.append(f"ALTER TABLE acc_cdrs ADD COLUMN {column} {_SQLITE_TYPES.get(sql_type, sql_type)}")
    for name, (unique, columns) in ACC_CDRS_EXTRA_INDEXES.items():
        result.append(f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {name} "
                      f"ON acc_cdrs ({', '.join(columns)})")
    return result


def forward(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            have = {row[1] for row in cursor.execute("PRAGMA table_info(acc_cdrs)").fetchall()}
        if set(ACC_CDRS_EXTRA_COLUMNS) <= have:
            return
    for statement in statements(connection.vendor):
        schema_editor.execute(statement)


def backward(apps, schema_editor) -> None:
    for name in ACC_CDRS_EXTRA_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    for column in reversed(ACC_CDRS_EXTRA_COLUMNS):
        schema_editor.execute(f"ALTER TABLE acc_cdrs DROP COLUMN {column}")


class Migration(migrations.Migration):

    dependencies = [
        ("kamailio", "0001_kamailio_schema"),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
        # State only (the model is managed = False).
        migrations.AddField(model_name="acccdr", name="src_user",
                            field=models.CharField(blank=True, max_length=64, null=True)),
        migrations.AddField(model_name="acccdr", name="site",
                            field=models.CharField(blank=True, max_length=64, null=True)),
        migrations.AddField(model_name="acccdr", name="trunk",
                            field=models.CharField(blank=True, max_length=64, null=True)),
        migrations.AddField(model_name="acccdr", name="dst_user",
                            field=models.CharField(blank=True, max_length=64, null=True)),
        migrations.AddField(model_name="acccdr", name="callid",
                            field=models.CharField(blank=True, max_length=255, null=True)),
        migrations.AddField(model_name="acccdr", name="sip_code",
                            field=models.CharField(blank=True, max_length=3, null=True)),
        migrations.AddField(model_name="acccdr", name="sip_reason",
                            field=models.CharField(blank=True, max_length=128, null=True)),
        migrations.AddField(model_name="acccdr", name="answer_time",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="acccdr", name="cdr_id",
                            field=models.BigIntegerField(db_default=RawSQL("nextval('cdr_id_seq')", []),
                                                         editable=False, unique=True)),
    ]
