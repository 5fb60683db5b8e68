"""Kamailio 5.6's tables, created with Kamailio's own schema.

The DDL below is written from Kamailio 5.6's PostgreSQL schema
(``/usr/share/kamailio/postgres/<module>-create.sql`` for the modules standard,
auth_db, usrloc, registrar, dispatcher, dialplan, permissions, uac, acc and
presence) and must stay identical to it: Kamailio reads and writes these tables
itself and checks the ``version`` rows at start-up. ``tests/kamailio/test_schema.py``
loads Kamailio's files into a scratch database and compares every column,
default and index with what this migration creates.

PostgreSQL gets the statements verbatim. SQLite (the portal's embedded default)
gets the same statements through :func:`_sqlite`, which only swaps the types
SQLite spells differently (``SERIAL PRIMARY KEY`` -> ``INTEGER PRIMARY KEY
AUTOINCREMENT``, ``BYTEA`` -> ``BLOB``, ``TIMESTAMP WITHOUT TIME ZONE`` ->
``TIMESTAMP``).

Adopting an estate whose Kamailio tables already exist (created by ``kamdbctl``):
if every table is present with the expected ``version`` row the migration creates
nothing and just records itself; a partial or different schema stops it with a
message naming the tables. The models are ``managed = False``; the
``CreateModel`` operations at the end only record them in Django's state.
"""
from __future__ import annotations

from django.db import migrations, models

# (table, version Kamailio 5.6 expects, [statements]) in the order of Kamailio's files.
KAMAILIO_TABLES: list[tuple[str, int, list[str]]] = [
    # standard-create.sql
    ("version", 1, [
        """CREATE TABLE version (
    id SERIAL PRIMARY KEY NOT NULL,
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_table_name_idx UNIQUE (table_name)
)""",
    ]),
    # auth_db-create.sql
    ("subscriber", 7, [
        """CREATE TABLE subscriber (
    id SERIAL PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain)
)""",
        "CREATE INDEX subscriber_username_idx ON subscriber (username)",
    ]),
    # usrloc-create.sql
    ("location", 9, [
        """CREATE TABLE location (
    id SERIAL PRIMARY KEY NOT NULL,
    ruid VARCHAR(64) DEFAULT '' NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT NULL,
    contact VARCHAR(512) DEFAULT '' NOT NULL,
    received VARCHAR(128) DEFAULT NULL,
    path VARCHAR(512) DEFAULT NULL,
    expires TIMESTAMP WITHOUT TIME ZONE DEFAULT '2030-05-28 21:32:15' NOT NULL,
    q REAL DEFAULT 1.0 NOT NULL,
    callid VARCHAR(255) DEFAULT 'Default-Call-ID' NOT NULL,
    cseq INTEGER DEFAULT 1 NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    cflags INTEGER DEFAULT 0 NOT NULL,
    user_agent VARCHAR(255) DEFAULT '' NOT NULL,
    socket VARCHAR(64) DEFAULT NULL,
    methods INTEGER DEFAULT NULL,
    instance VARCHAR(255) DEFAULT NULL,
    reg_id INTEGER DEFAULT 0 NOT NULL,
    server_id INTEGER DEFAULT 0 NOT NULL,
    connection_id INTEGER DEFAULT 0 NOT NULL,
    keepalive INTEGER DEFAULT 0 NOT NULL,
    partition INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT location_ruid_idx UNIQUE (ruid)
)""",
        "CREATE INDEX location_account_contact_idx ON location (username, domain, contact)",
        "CREATE INDEX location_expires_idx ON location (expires)",
        "CREATE INDEX location_tcpcon_idx ON location (connection_id)",
        "CREATE INDEX location_connection_idx ON location (server_id, connection_id)",
    ]),
    ("location_attrs", 1, [
        """CREATE TABLE location_attrs (
    id SERIAL PRIMARY KEY NOT NULL,
    ruid VARCHAR(64) DEFAULT '' NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT NULL,
    aname VARCHAR(64) DEFAULT '' NOT NULL,
    atype INTEGER DEFAULT 0 NOT NULL,
    avalue VARCHAR(512) DEFAULT '' NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL
)""",
        "CREATE INDEX location_attrs_account_record_idx ON location_attrs (username, domain, ruid)",
        "CREATE INDEX location_attrs_last_modified_idx ON location_attrs (last_modified)",
    ]),
    # registrar-create.sql
    ("aliases", 8, [
        """CREATE TABLE aliases (
    id SERIAL PRIMARY KEY NOT NULL,
    ruid VARCHAR(64) DEFAULT '' NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT NULL,
    contact VARCHAR(255) DEFAULT '' NOT NULL,
    received VARCHAR(255) DEFAULT NULL,
    path VARCHAR(512) DEFAULT NULL,
    expires TIMESTAMP WITHOUT TIME ZONE DEFAULT '2030-05-28 21:32:15' NOT NULL,
    q REAL DEFAULT 1.0 NOT NULL,
    callid VARCHAR(255) DEFAULT 'Default-Call-ID' NOT NULL,
    cseq INTEGER DEFAULT 1 NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    cflags INTEGER DEFAULT 0 NOT NULL,
    user_agent VARCHAR(255) DEFAULT '' NOT NULL,
    socket VARCHAR(64) DEFAULT NULL,
    methods INTEGER DEFAULT NULL,
    instance VARCHAR(255) DEFAULT NULL,
    reg_id INTEGER DEFAULT 0 NOT NULL,
    server_id INTEGER DEFAULT 0 NOT NULL,
    connection_id INTEGER DEFAULT 0 NOT NULL,
    keepalive INTEGER DEFAULT 0 NOT NULL,
    partition INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT aliases_ruid_idx UNIQUE (ruid)
)""",
        "CREATE INDEX aliases_account_contact_idx ON aliases (username, domain, contact)",
        "CREATE INDEX aliases_expires_idx ON aliases (expires)",
    ]),
    # dispatcher-create.sql
    ("dispatcher", 4, [
        """CREATE TABLE dispatcher (
    id SERIAL PRIMARY KEY NOT NULL,
    setid INTEGER DEFAULT 0 NOT NULL,
    destination VARCHAR(192) DEFAULT '' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    priority INTEGER DEFAULT 0 NOT NULL,
    attrs VARCHAR(128) DEFAULT '' NOT NULL,
    description VARCHAR(64) DEFAULT '' NOT NULL
)""",
    ]),
    # dialplan-create.sql
    ("dialplan", 2, [
        """CREATE TABLE dialplan (
    id SERIAL PRIMARY KEY NOT NULL,
    dpid INTEGER NOT NULL,
    pr INTEGER NOT NULL,
    match_op INTEGER NOT NULL,
    match_exp VARCHAR(64) NOT NULL,
    match_len INTEGER NOT NULL,
    subst_exp VARCHAR(64) NOT NULL,
    repl_exp VARCHAR(256) NOT NULL,
    attrs VARCHAR(64) NOT NULL
)""",
    ]),
    # permissions-create.sql
    ("trusted", 6, [
        """CREATE TABLE trusted (
    id SERIAL PRIMARY KEY NOT NULL,
    src_ip VARCHAR(50) NOT NULL,
    proto VARCHAR(4) NOT NULL,
    from_pattern VARCHAR(64) DEFAULT NULL,
    ruri_pattern VARCHAR(64) DEFAULT NULL,
    tag VARCHAR(64),
    priority INTEGER DEFAULT 0 NOT NULL
)""",
        "CREATE INDEX trusted_peer_idx ON trusted (src_ip)",
    ]),
    ("address", 6, [
        """CREATE TABLE address (
    id SERIAL PRIMARY KEY NOT NULL,
    grp INTEGER DEFAULT 1 NOT NULL,
    ip_addr VARCHAR(50) NOT NULL,
    mask INTEGER DEFAULT 32 NOT NULL,
    port SMALLINT DEFAULT 0 NOT NULL,
    tag VARCHAR(64)
)""",
    ]),
    # uac-create.sql
    ("uacreg", 5, [
        """CREATE TABLE uacreg (
    id SERIAL PRIMARY KEY NOT NULL,
    l_uuid VARCHAR(64) DEFAULT '' NOT NULL,
    l_username VARCHAR(64) DEFAULT '' NOT NULL,
    l_domain VARCHAR(64) DEFAULT '' NOT NULL,
    r_username VARCHAR(64) DEFAULT '' NOT NULL,
    r_domain VARCHAR(64) DEFAULT '' NOT NULL,
    realm VARCHAR(64) DEFAULT '' NOT NULL,
    auth_username VARCHAR(64) DEFAULT '' NOT NULL,
    auth_password VARCHAR(64) DEFAULT '' NOT NULL,
    auth_ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    auth_proxy VARCHAR(255) DEFAULT '' NOT NULL,
    expires INTEGER DEFAULT 0 NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    reg_delay INTEGER DEFAULT 0 NOT NULL,
    contact_addr VARCHAR(255) DEFAULT '' NOT NULL,
    socket VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT uacreg_l_uuid_idx UNIQUE (l_uuid)
)""",
    ]),
    # acc-create.sql
    ("acc", 5, [
        """CREATE TABLE acc (
    id SERIAL PRIMARY KEY NOT NULL,
    method VARCHAR(16) DEFAULT '' NOT NULL,
    from_tag VARCHAR(128) DEFAULT '' NOT NULL,
    to_tag VARCHAR(128) DEFAULT '' NOT NULL,
    callid VARCHAR(255) DEFAULT '' NOT NULL,
    sip_code VARCHAR(3) DEFAULT '' NOT NULL,
    sip_reason VARCHAR(128) DEFAULT '' NOT NULL,
    time TIMESTAMP WITHOUT TIME ZONE NOT NULL
)""",
        "CREATE INDEX acc_callid_idx ON acc (callid)",
    ]),
    ("acc_cdrs", 2, [
        """CREATE TABLE acc_cdrs (
    id SERIAL PRIMARY KEY NOT NULL,
    start_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL,
    end_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL,
    duration REAL DEFAULT 0 NOT NULL
)""",
        "CREATE INDEX acc_cdrs_start_time_idx ON acc_cdrs (start_time)",
    ]),
    ("missed_calls", 4, [
        """CREATE TABLE missed_calls (
    id SERIAL PRIMARY KEY NOT NULL,
    method VARCHAR(16) DEFAULT '' NOT NULL,
    from_tag VARCHAR(128) DEFAULT '' NOT NULL,
    to_tag VARCHAR(128) DEFAULT '' NOT NULL,
    callid VARCHAR(255) DEFAULT '' NOT NULL,
    sip_code VARCHAR(3) DEFAULT '' NOT NULL,
    sip_reason VARCHAR(128) DEFAULT '' NOT NULL,
    time TIMESTAMP WITHOUT TIME ZONE NOT NULL
)""",
        "CREATE INDEX missed_calls_callid_idx ON missed_calls (callid)",
    ]),
    # presence-create.sql
    ("presentity", 5, [
        """CREATE TABLE presentity (
    id SERIAL PRIMARY KEY NOT NULL,
    username VARCHAR(64) NOT NULL,
    domain VARCHAR(64) NOT NULL,
    event VARCHAR(64) NOT NULL,
    etag VARCHAR(128) NOT NULL,
    expires INTEGER NOT NULL,
    received_time INTEGER NOT NULL,
    body BYTEA NOT NULL,
    sender VARCHAR(255) NOT NULL,
    priority INTEGER DEFAULT 0 NOT NULL,
    ruid VARCHAR(64),
    CONSTRAINT presentity_presentity_idx UNIQUE (username, domain, event, etag),
    CONSTRAINT presentity_ruid_idx UNIQUE (ruid)
)""",
        "CREATE INDEX presentity_presentity_expires ON presentity (expires)",
        "CREATE INDEX presentity_account_idx ON presentity (username, domain, event)",
    ]),
    ("active_watchers", 12, [
        """CREATE TABLE active_watchers (
    id SERIAL PRIMARY KEY NOT NULL,
    presentity_uri VARCHAR(255) NOT NULL,
    watcher_username VARCHAR(64) NOT NULL,
    watcher_domain VARCHAR(64) NOT NULL,
    to_user VARCHAR(64) NOT NULL,
    to_domain VARCHAR(64) NOT NULL,
    event VARCHAR(64) DEFAULT 'presence' NOT NULL,
    event_id VARCHAR(64),
    to_tag VARCHAR(128) NOT NULL,
    from_tag VARCHAR(128) NOT NULL,
    callid VARCHAR(255) NOT NULL,
    local_cseq INTEGER NOT NULL,
    remote_cseq INTEGER NOT NULL,
    contact VARCHAR(255) NOT NULL,
    record_route TEXT,
    expires INTEGER NOT NULL,
    status INTEGER DEFAULT 2 NOT NULL,
    reason VARCHAR(64),
    version INTEGER DEFAULT 0 NOT NULL,
    socket_info VARCHAR(64) NOT NULL,
    local_contact VARCHAR(255) NOT NULL,
    from_user VARCHAR(64) NOT NULL,
    from_domain VARCHAR(64) NOT NULL,
    updated INTEGER NOT NULL,
    updated_winfo INTEGER NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    user_agent VARCHAR(255) DEFAULT '',
    CONSTRAINT active_watchers_active_watchers_idx UNIQUE (callid, to_tag, from_tag)
)""",
        "CREATE INDEX active_watchers_active_watchers_expires ON active_watchers (expires)",
        "CREATE INDEX active_watchers_active_watchers_pres ON active_watchers (presentity_uri, event)",
        "CREATE INDEX active_watchers_updated_idx ON active_watchers (updated)",
        "CREATE INDEX active_watchers_updated_winfo_idx ON active_watchers (updated_winfo, presentity_uri)",
    ]),
    ("watchers", 3, [
        """CREATE TABLE watchers (
    id SERIAL PRIMARY KEY NOT NULL,
    presentity_uri VARCHAR(255) NOT NULL,
    watcher_username VARCHAR(64) NOT NULL,
    watcher_domain VARCHAR(64) NOT NULL,
    event VARCHAR(64) DEFAULT 'presence' NOT NULL,
    status INTEGER NOT NULL,
    reason VARCHAR(64),
    inserted_time INTEGER NOT NULL,
    CONSTRAINT watchers_watcher_idx UNIQUE (presentity_uri, watcher_username, watcher_domain, event)
)""",
    ]),
    ("xcap", 4, [
        """CREATE TABLE xcap (
    id SERIAL PRIMARY KEY NOT NULL,
    username VARCHAR(64) NOT NULL,
    domain VARCHAR(64) NOT NULL,
    doc BYTEA NOT NULL,
    doc_type INTEGER NOT NULL,
    etag VARCHAR(128) NOT NULL,
    source INTEGER NOT NULL,
    doc_uri VARCHAR(255) NOT NULL,
    port INTEGER NOT NULL,
    CONSTRAINT xcap_doc_uri_idx UNIQUE (doc_uri)
)""",
        "CREATE INDEX xcap_account_doc_type_idx ON xcap (username, domain, doc_type)",
        "CREATE INDEX xcap_account_doc_type_uri_idx ON xcap (username, domain, doc_type, doc_uri)",
        "CREATE INDEX xcap_account_doc_uri_idx ON xcap (username, domain, doc_uri)",
    ]),
    ("pua", 7, [
        """CREATE TABLE pua (
    id SERIAL PRIMARY KEY NOT NULL,
    pres_uri VARCHAR(255) NOT NULL,
    pres_id VARCHAR(255) NOT NULL,
    event INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    desired_expires INTEGER NOT NULL,
    flag INTEGER NOT NULL,
    etag VARCHAR(128) NOT NULL,
    tuple_id VARCHAR(64),
    watcher_uri VARCHAR(255) NOT NULL,
    call_id VARCHAR(255) NOT NULL,
    to_tag VARCHAR(128) NOT NULL,
    from_tag VARCHAR(128) NOT NULL,
    cseq INTEGER NOT NULL,
    record_route TEXT,
    contact VARCHAR(255) NOT NULL,
    remote_contact VARCHAR(255) NOT NULL,
    version INTEGER NOT NULL,
    extra_headers TEXT NOT NULL,
    CONSTRAINT pua_pua_idx UNIQUE (etag, tuple_id, call_id, from_tag)
)""",
        "CREATE INDEX pua_expires_idx ON pua (expires)",
        "CREATE INDEX pua_dialog1_idx ON pua (pres_id, pres_uri)",
        "CREATE INDEX pua_dialog2_idx ON pua (call_id, from_tag)",
        "CREATE INDEX pua_record_idx ON pua (pres_id)",
    ]),
]

# What Kamailio 5.6 checks at start-up: table -> version.
KAMAILIO_TABLE_VERSIONS: dict[str, int] = {table: version for table, version, _ in KAMAILIO_TABLES}

_SQLITE_TYPES = [
    ("SERIAL PRIMARY KEY NOT NULL", "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"),
    ("TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP"),
    ("BYTEA", "BLOB"),
]


def _sqlite(statement: str) -> str:
    for postgres, sqlite in _SQLITE_TYPES:
        statement = statement.replace(postgres, sqlite)
    return statement


def schema_statements(vendor: str) -> list[str]:
    """Every CREATE and version INSERT, in order, for ``vendor`` ('postgresql' or 'sqlite')."""
    if vendor not in {"postgresql", "sqlite"}:
        raise NotImplementedError(f"Kamailio's schema is provided for PostgreSQL and SQLite, not {vendor!r}")
    convert = (lambda s: s) if vendor == "postgresql" else _sqlite
    statements: list[str] = []
    for table, version, ddl in KAMAILIO_TABLES:
        statements.extend(convert(sql) for sql in ddl)
        statements.append(
            f"INSERT INTO version (table_name, table_version) VALUES ('{table}', {version})"
        )
    return statements


def _existing_versions(schema_editor) -> dict[str, int] | None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        present = [table for table in KAMAILIO_TABLE_VERSIONS if table in tables]
        if not present:
            return None
        missing = [table for table in KAMAILIO_TABLE_VERSIONS if table not in tables]
        if missing or "version" not in tables:
            raise RuntimeError(
                "Kamailio's schema is partly present: found "
                f"{', '.join(present)} but not {', '.join(missing)}. Create the missing tables with "
                "kamdbctl (Kamailio 5.6) or drop the partial ones, then migrate again."
            )
        cursor.execute("SELECT table_name, table_version FROM version")
        return {name: int(version) for name, version in cursor.fetchall()}


def create_schema(apps, schema_editor) -> None:
    existing = _existing_versions(schema_editor)
    if existing is not None:
        wrong = {
            table: (existing.get(table), version)
            for table, version in KAMAILIO_TABLE_VERSIONS.items()
            if existing.get(table) != version
        }
        if wrong:
            detail = ", ".join(f"{t} is v{have} (expected v{want})" for t, (have, want) in wrong.items())
            raise RuntimeError(f"Existing Kamailio tables do not match Kamailio 5.6's schema: {detail}")
        return  # a Kamailio 5.6 schema is already there (kamdbctl): adopt it
    for statement in schema_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


def drop_schema(apps, schema_editor) -> None:
    for table, _version, _ddl in reversed(KAMAILIO_TABLES):
        schema_editor.execute(f"DROP TABLE IF EXISTS {table}")


class Migration(migrations.Migration):

    initial = True

    dependencies: list = []

    operations = [
        migrations.RunPython(create_schema, drop_schema, elidable=False),
        # State only: the models are managed = False, so these create nothing.
        migrations.CreateModel(
            name='Acc',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('method', models.CharField(default='', max_length=16)),
                ('from_tag', models.CharField(default='', max_length=128)),
                ('to_tag', models.CharField(default='', max_length=128)),
                ('callid', models.CharField(default='', max_length=255)),
                ('sip_code', models.CharField(default='', max_length=3)),
                ('sip_reason', models.CharField(default='', max_length=128)),
                ('time', models.DateTimeField()),
            ],
            options={
                'verbose_name': 'accounting record',
                'db_table': 'acc',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='AccCdr',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('start_time', models.DateTimeField(db_default=models.Value('2000-01-01 00:00:00'))),
                ('end_time', models.DateTimeField(db_default=models.Value('2000-01-01 00:00:00'))),
                ('duration', models.FloatField(default=0)),
            ],
            options={
                'verbose_name': 'CDR',
                'db_table': 'acc_cdrs',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='ActiveWatcher',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('presentity_uri', models.CharField(max_length=255)),
                ('watcher_username', models.CharField(max_length=64)),
                ('watcher_domain', models.CharField(max_length=64)),
                ('to_user', models.CharField(max_length=64)),
                ('to_domain', models.CharField(max_length=64)),
                ('event', models.CharField(default='presence', max_length=64)),
                ('event_id', models.CharField(blank=True, max_length=64, null=True)),
                ('to_tag', models.CharField(max_length=128)),
                ('from_tag', models.CharField(max_length=128)),
                ('callid', models.CharField(max_length=255)),
                ('local_cseq', models.IntegerField()),
                ('remote_cseq', models.IntegerField()),
                ('contact', models.CharField(max_length=255)),
                ('record_route', models.TextField(blank=True, null=True)),
                ('expires', models.IntegerField()),
                ('status', models.IntegerField(default=2)),
                ('reason', models.CharField(blank=True, max_length=64, null=True)),
                ('version', models.IntegerField(default=0)),
                ('socket_info', models.CharField(max_length=64)),
                ('local_contact', models.CharField(max_length=255)),
                ('from_user', models.CharField(max_length=64)),
                ('from_domain', models.CharField(max_length=64)),
                ('updated', models.IntegerField()),
                ('updated_winfo', models.IntegerField()),
                ('flags', models.IntegerField(default=0)),
                ('user_agent', models.CharField(blank=True, default='', max_length=255, null=True)),
            ],
            options={
                'db_table': 'active_watchers',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Address',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('grp', models.IntegerField(default=1)),
                ('ip_addr', models.CharField(max_length=50)),
                ('mask', models.IntegerField(default=32)),
                ('port', models.SmallIntegerField(default=0)),
                ('tag', models.CharField(blank=True, max_length=64, null=True)),
            ],
            options={
                'verbose_name_plural': 'addresses',
                'db_table': 'address',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Alias',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('ruid', models.CharField(default='', max_length=64, unique=True)),
                ('username', models.CharField(default='', max_length=64)),
                ('domain', models.CharField(blank=True, max_length=64, null=True)),
                ('path', models.CharField(blank=True, max_length=512, null=True)),
                ('expires', models.DateTimeField(db_default=models.Value('2030-05-28 21:32:15'))),
                ('q', models.FloatField(default=1.0)),
                ('callid', models.CharField(default='Default-Call-ID', max_length=255)),
                ('cseq', models.IntegerField(default=1)),
                ('last_modified', models.DateTimeField(db_default=models.Value('2000-01-01 00:00:01'))),
                ('flags', models.IntegerField(default=0)),
                ('cflags', models.IntegerField(default=0)),
                ('user_agent', models.CharField(default='', max_length=255)),
                ('socket', models.CharField(blank=True, max_length=64, null=True)),
                ('methods', models.IntegerField(blank=True, null=True)),
                ('instance', models.CharField(blank=True, max_length=255, null=True)),
                ('reg_id', models.IntegerField(default=0)),
                ('server_id', models.IntegerField(default=0)),
                ('connection_id', models.IntegerField(default=0)),
                ('keepalive', models.IntegerField(default=0)),
                ('partition', models.IntegerField(default=0)),
                ('contact', models.CharField(default='', max_length=255)),
                ('received', models.CharField(blank=True, max_length=255, null=True)),
            ],
            options={
                'verbose_name_plural': 'aliases',
                'db_table': 'aliases',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='DialplanRule',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('dpid', models.IntegerField()),
                ('pr', models.IntegerField()),
                ('match_op', models.IntegerField()),
                ('match_exp', models.CharField(max_length=64)),
                ('match_len', models.IntegerField()),
                ('subst_exp', models.CharField(blank=True, max_length=64)),
                ('repl_exp', models.CharField(blank=True, max_length=256)),
                ('attrs', models.CharField(blank=True, max_length=64)),
            ],
            options={
                'verbose_name': 'dialplan rule',
                'db_table': 'dialplan',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Dispatcher',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('setid', models.IntegerField(default=0)),
                ('destination', models.CharField(default='', max_length=192)),
                ('flags', models.IntegerField(default=0)),
                ('priority', models.IntegerField(default=0)),
                ('attrs', models.CharField(blank=True, default='', max_length=128)),
                ('description', models.CharField(blank=True, default='', max_length=64)),
            ],
            options={
                'verbose_name': 'dispatcher destination',
                'db_table': 'dispatcher',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Location',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('ruid', models.CharField(default='', max_length=64, unique=True)),
                ('username', models.CharField(default='', max_length=64)),
                ('domain', models.CharField(blank=True, max_length=64, null=True)),
                ('path', models.CharField(blank=True, max_length=512, null=True)),
                ('expires', models.DateTimeField(db_default=models.Value('2030-05-28 21:32:15'))),
                ('q', models.FloatField(default=1.0)),
                ('callid', models.CharField(default='Default-Call-ID', max_length=255)),
                ('cseq', models.IntegerField(default=1)),
                ('last_modified', models.DateTimeField(db_default=models.Value('2000-01-01 00:00:01'))),
                ('flags', models.IntegerField(default=0)),
                ('cflags', models.IntegerField(default=0)),
                ('user_agent', models.CharField(default='', max_length=255)),
                ('socket', models.CharField(blank=True, max_length=64, null=True)),
                ('methods', models.IntegerField(blank=True, null=True)),
                ('instance', models.CharField(blank=True, max_length=255, null=True)),
                ('reg_id', models.IntegerField(default=0)),
                ('server_id', models.IntegerField(default=0)),
                ('connection_id', models.IntegerField(default=0)),
                ('keepalive', models.IntegerField(default=0)),
                ('partition', models.IntegerField(default=0)),
                ('contact', models.CharField(default='', max_length=512)),
                ('received', models.CharField(blank=True, max_length=128, null=True)),
            ],
            options={
                'db_table': 'location',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='LocationAttr',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('ruid', models.CharField(default='', max_length=64)),
                ('username', models.CharField(default='', max_length=64)),
                ('domain', models.CharField(blank=True, max_length=64, null=True)),
                ('aname', models.CharField(default='', max_length=64)),
                ('atype', models.IntegerField(default=0)),
                ('avalue', models.CharField(default='', max_length=512)),
                ('last_modified', models.DateTimeField(db_default=models.Value('2000-01-01 00:00:01'))),
            ],
            options={
                'db_table': 'location_attrs',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='MissedCall',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('method', models.CharField(default='', max_length=16)),
                ('from_tag', models.CharField(default='', max_length=128)),
                ('to_tag', models.CharField(default='', max_length=128)),
                ('callid', models.CharField(default='', max_length=255)),
                ('sip_code', models.CharField(default='', max_length=3)),
                ('sip_reason', models.CharField(default='', max_length=128)),
                ('time', models.DateTimeField()),
            ],
            options={
                'db_table': 'missed_calls',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Presentity',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('username', models.CharField(max_length=64)),
                ('domain', models.CharField(max_length=64)),
                ('event', models.CharField(max_length=64)),
                ('etag', models.CharField(max_length=128)),
                ('expires', models.IntegerField()),
                ('received_time', models.IntegerField()),
                ('body', models.BinaryField()),
                ('sender', models.CharField(max_length=255)),
                ('priority', models.IntegerField(default=0)),
                ('ruid', models.CharField(blank=True, max_length=64, null=True, unique=True)),
            ],
            options={
                'verbose_name_plural': 'presentities',
                'db_table': 'presentity',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Pua',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('pres_uri', models.CharField(max_length=255)),
                ('pres_id', models.CharField(max_length=255)),
                ('event', models.IntegerField()),
                ('expires', models.IntegerField()),
                ('desired_expires', models.IntegerField()),
                ('flag', models.IntegerField()),
                ('etag', models.CharField(max_length=128)),
                ('tuple_id', models.CharField(blank=True, max_length=64, null=True)),
                ('watcher_uri', models.CharField(max_length=255)),
                ('call_id', models.CharField(max_length=255)),
                ('to_tag', models.CharField(max_length=128)),
                ('from_tag', models.CharField(max_length=128)),
                ('cseq', models.IntegerField()),
                ('record_route', models.TextField(blank=True, null=True)),
                ('contact', models.CharField(max_length=255)),
                ('remote_contact', models.CharField(max_length=255)),
                ('version', models.IntegerField()),
                ('extra_headers', models.TextField()),
            ],
            options={
                'verbose_name': 'PUA record',
                'db_table': 'pua',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Subscriber',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('username', models.CharField(default='', max_length=64)),
                ('domain', models.CharField(default='', max_length=64)),
                ('password', models.CharField(blank=True, default='', max_length=64)),
                ('ha1', models.CharField(default='', max_length=128)),
                ('ha1b', models.CharField(default='', max_length=128)),
            ],
            options={
                'db_table': 'subscriber',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='TableVersion',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('table_name', models.CharField(max_length=32, unique=True)),
                ('table_version', models.IntegerField(default=0)),
            ],
            options={
                'verbose_name': 'table version',
                'db_table': 'version',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Trusted',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('src_ip', models.CharField(max_length=50)),
                ('proto', models.CharField(max_length=4)),
                ('from_pattern', models.CharField(blank=True, max_length=64, null=True)),
                ('ruri_pattern', models.CharField(blank=True, max_length=64, null=True)),
                ('tag', models.CharField(blank=True, max_length=64, null=True)),
                ('priority', models.IntegerField(default=0)),
            ],
            options={
                'verbose_name_plural': 'trusted',
                'db_table': 'trusted',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='UacReg',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('l_uuid', models.CharField(default='', max_length=64, unique=True)),
                ('l_username', models.CharField(default='', max_length=64)),
                ('l_domain', models.CharField(default='', max_length=64)),
                ('r_username', models.CharField(default='', max_length=64)),
                ('r_domain', models.CharField(default='', max_length=64)),
                ('realm', models.CharField(blank=True, default='', max_length=64)),
                ('auth_username', models.CharField(default='', max_length=64)),
                ('auth_password', models.CharField(blank=True, default='', max_length=64)),
                ('auth_ha1', models.CharField(blank=True, default='', max_length=128)),
                ('auth_proxy', models.CharField(default='', max_length=255)),
                ('expires', models.IntegerField(default=0)),
                ('flags', models.IntegerField(default=0)),
                ('reg_delay', models.IntegerField(default=0)),
                ('contact_addr', models.CharField(blank=True, default='', max_length=255)),
                ('socket', models.CharField(blank=True, default='', max_length=128)),
            ],
            options={
                'verbose_name': 'UAC registration',
                'db_table': 'uacreg',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Watcher',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('presentity_uri', models.CharField(max_length=255)),
                ('watcher_username', models.CharField(max_length=64)),
                ('watcher_domain', models.CharField(max_length=64)),
                ('event', models.CharField(default='presence', max_length=64)),
                ('status', models.IntegerField()),
                ('reason', models.CharField(blank=True, max_length=64, null=True)),
                ('inserted_time', models.IntegerField()),
            ],
            options={
                'db_table': 'watchers',
                'abstract': False,
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='Xcap',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('username', models.CharField(max_length=64)),
                ('domain', models.CharField(max_length=64)),
                ('doc', models.BinaryField()),
                ('doc_type', models.IntegerField()),
                ('etag', models.CharField(max_length=128)),
                ('source', models.IntegerField()),
                ('doc_uri', models.CharField(max_length=255, unique=True)),
                ('port', models.IntegerField()),
            ],
            options={
                'verbose_name': 'XCAP document',
                'db_table': 'xcap',
                'abstract': False,
                'managed': False,
            },
        ),
    ]
