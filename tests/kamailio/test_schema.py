"""The kamailio app's migration creates exactly Kamailio 5.6's own schema.

Kamailio's schema files (/usr/share/kamailio/postgres/<module>-create.sql) are loaded into a
scratch PostgreSQL database; every table they create is compared with what the Django migrations
created in the test database: columns (name, position, type, length, nullability, default), indexes
(name, unique, primary, column list) and the `version` rows Kamailio checks at start-up. The same
statements run on SQLite (the portal's embedded default) are compared too.

The one allowed difference: the acc ``cdr_extra`` columns (and their indexes) migration
``kamailio/0002_acc_cdrs_call_records`` adds to ``acc_cdrs`` — exactly those, and nothing else anywhere.
"""
from __future__ import annotations

import re
import sqlite3
import uuid
from importlib import import_module
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.postgres]

_ACC_EXTRAS = import_module("voipadmin.kamailio.migrations.0002_acc_cdrs_call_records")
_PG_TYPES = {"VARCHAR": "character varying", "TIMESTAMP WITHOUT TIME ZONE": "timestamp without time zone",
             "BIGINT": "bigint"}


def _extra_column_spec(sql_type: str) -> dict:
    match = re.fullmatch(r"VARCHAR\((\d+)\)", sql_type)
    return {"type": _PG_TYPES["VARCHAR" if match else sql_type], "length": int(match.group(1)) if match else None}


#: What may exist beyond Kamailio's own schema: {table: {"columns": {...}, "indexes": {...}}}
ALLOWED_EXTRAS = {
    "acc_cdrs": {
        "columns": {name: {**_extra_column_spec(sql_type), "nullable": "YES", "default": None}
                    for name, sql_type in _ACC_EXTRAS.ACC_CDRS_EXTRA_COLUMNS.items()},
        "indexes": {name: {"unique": unique, "primary": False, "columns": columns}
                    for name, (unique, columns) in _ACC_EXTRAS.ACC_CDRS_EXTRA_INDEXES.items()},
    },
}
# cdrs/0003 numbers Kamailio's records from cdr's own sequence (one id space for the merged call records)
ALLOWED_EXTRAS["acc_cdrs"]["columns"]["cdr_id"].update(nullable="NO", default="nextval('cdr_id_seq'::regclass)")

SCHEMA_DIR = Path("/usr/share/kamailio/postgres")
MODULES = ["standard", "auth_db", "usrloc", "registrar", "dispatcher", "dialplan", "permissions", "uac", "acc", "presence"]
EXPECTED_TABLES = {
    "version", "subscriber", "location", "location_attrs", "aliases", "dispatcher", "dialplan", "address", "trusted",
    "uacreg", "acc", "acc_cdrs", "missed_calls", "presentity", "active_watchers", "watchers", "xcap", "pua",
}
# From KAMAILIO.md: what Kamailio 5.6's modules check at start-up.
EXPECTED_VERSIONS = {
    "subscriber": 7, "location": 9, "location_attrs": 1, "aliases": 8, "dispatcher": 4, "dialplan": 2,
    "address": 6, "trusted": 6, "uacreg": 5, "acc": 5, "acc_cdrs": 2, "missed_calls": 4, "presentity": 5,
    "active_watchers": 12, "watchers": 3, "xcap": 4, "pua": 7, "version": 1,
}

COLUMNS_SQL = """
    SELECT table_name, column_name, ordinal_position, data_type, character_maximum_length,
           is_nullable, column_default
      FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = ANY(%s)
     ORDER BY table_name, ordinal_position
"""
INDEXES_SQL = """
    SELECT t.relname, i.relname, ix.indisunique, ix.indisprimary,
           ARRAY(SELECT a.attname
                   FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                  ORDER BY k.ord)
      FROM pg_index ix
      JOIN pg_class t ON t.oid = ix.indrelid
      JOIN pg_class i ON i.oid = ix.indexrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public' AND t.relname = ANY(%s)
"""
CONSTRAINTS_SQL = """
    SELECT t.relname, c.conname, c.contype
      FROM pg_constraint c
      JOIN pg_class t ON t.oid = c.conrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public' AND t.relname = ANY(%s)
"""


def describe(cursor, tables: list[str]) -> dict:
    """{table: {"columns": {...}, "indexes": {...}, "constraints": {...}}} for the public schema."""
    schema: dict = {t: {"columns": {}, "indexes": {}, "constraints": {}} for t in tables}
    cursor.execute(COLUMNS_SQL, [tables])
    for table, column, position, data_type, length, nullable, default in cursor.fetchall():
        schema[table]["columns"][column] = {
            "position": position, "type": data_type, "length": length, "nullable": nullable, "default": default,
        }
    cursor.execute(INDEXES_SQL, [tables])
    for table, index, unique, primary, columns in cursor.fetchall():
        schema[table]["indexes"][index] = {"unique": unique, "primary": primary, "columns": list(columns)}
    cursor.execute(CONSTRAINTS_SQL, [tables])
    for table, name, kind in cursor.fetchall():
        schema[table]["constraints"][name] = kind
    return schema


def _pg_params() -> dict:
    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        pytest.fail("the schema comparison needs PostgreSQL: run with DATABASE_URL=postgres://...", pytrace=False)
    params = {"host": db.get("HOST") or "127.0.0.1", "port": db.get("PORT") or "5432", "user": db.get("USER") or "postgres"}
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    return params


@pytest.fixture(scope="module")
def kamailio_reference() -> dict:
    """Kamailio's own schema, loaded from its files into a scratch database (dropped afterwards)."""
    missing = [m for m in MODULES if not (SCHEMA_DIR / f"{m}-create.sql").exists()]
    if missing:
        pytest.fail(f"Kamailio's schema files are missing for {missing} in {SCHEMA_DIR} (apt-get install kamailio)")
    params = _pg_params()
    name = f"kamailio_schema_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(dbname=name, autocommit=True, **params) as scratch:
            for module in MODULES:
                scratch.execute((SCHEMA_DIR / f"{module}-create.sql").read_text())
            tables = [r[0] for r in scratch.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()]
            with scratch.cursor() as cursor:
                reference = describe(cursor, tables)
            versions = dict(scratch.execute("SELECT table_name, table_version FROM version").fetchall())
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    return {"schema": reference, "versions": versions}


def test_reference_is_what_the_estate_expects(kamailio_reference):
    assert set(kamailio_reference["schema"]) == EXPECTED_TABLES
    assert kamailio_reference["versions"] == EXPECTED_VERSIONS


def _diff_table(table: str, want: dict, have: dict) -> list[str]:
    problems = []
    extras = ALLOWED_EXTRAS.get(table, {"columns": {}, "indexes": {}})
    for column, spec in extras["columns"].items():
        got = have["columns"].get(column)
        if got is None:
            problems.append(f"{table}.{column}: the call-record extra column is missing")
            continue
        shown = {k: v for k, v in got.items() if k != "position"}
        if shown != spec:
            problems.append(f"{table}.{column}: extra column is {shown}, expected {spec}")
        if got["position"] <= len(want["columns"]):
            problems.append(f"{table}.{column}: an extra column must come after Kamailio's own")
    for index, spec in extras["indexes"].items():
        if have["indexes"].get(index) != spec:
            problems.append(f"{table}: extra index {index} is {have['indexes'].get(index)}, expected {spec}")
    have = {"columns": {c: v for c, v in have["columns"].items() if c not in extras["columns"]},
            "indexes": {i: v for i, v in have["indexes"].items() if i not in extras["indexes"]},
            "constraints": have["constraints"]}
    for column, spec in want["columns"].items():
        got = have["columns"].get(column)
        if got is None:
            problems.append(f"{table}.{column}: missing (Kamailio has {spec})")
            continue
        for key, value in spec.items():
            if got[key] != value:
                problems.append(f"{table}.{column}: {key} is {got[key]!r}, Kamailio has {value!r}")
    for column in have["columns"].keys() - want["columns"].keys():
        problems.append(f"{table}.{column}: extra column, not in Kamailio's schema")
    for index, spec in want["indexes"].items():
        got = have["indexes"].get(index)
        if got != spec:
            problems.append(f"{table}: index {index} is {got}, Kamailio has {spec}")
    for index in have["indexes"].keys() - want["indexes"].keys():
        problems.append(f"{table}: extra index {index} {have['indexes'][index]}")
    if want["constraints"] != have["constraints"]:
        problems.append(f"{table}: constraints {have['constraints']}, Kamailio has {want['constraints']}")
    return problems


def test_migration_creates_kamailios_exact_schema(require_postgres, kamailio_reference):
    reference = kamailio_reference["schema"]
    tables = sorted(reference)
    with connection.cursor() as cursor:
        actual = describe(cursor.cursor, tables)  # the psycopg cursor: plain %s with a list parameter

    problems = []
    for table in tables:
        if not actual[table]["columns"]:
            problems.append(f"{table}: table missing from the Django test database")
            continue
        problems += _diff_table(table, reference[table], actual[table])
    assert not problems, "Django's kamailio tables differ from Kamailio 5.6's schema:\n  " + "\n  ".join(problems)


def test_version_rows_match_kamailio(require_postgres, kamailio_reference):
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, table_version FROM version")
        rows = cursor.fetchall()
    actual = dict(rows)
    assert len(rows) == len(actual), f"duplicate version rows: {rows}"
    want = kamailio_reference["versions"]
    problems = [
        f"{table}: version {actual.get(table)!r}, Kamailio expects {version}"
        for table, version in sorted(want.items()) if actual.get(table) != version
    ] + [f"{table}: extra version row {actual[table]}" for table in sorted(actual.keys() - want.keys())]
    assert not problems, "version rows differ:\n  " + "\n  ".join(problems)


def test_models_match_the_tables(kamailio_reference):
    """Every model field is a column of its table with the same length and nullability."""
    from django.apps import apps

    reference = kamailio_reference["schema"]
    problems = []
    models = list(apps.get_app_config("kamailio").get_models())
    assert {m._meta.db_table for m in models} == EXPECTED_TABLES
    for model in models:
        assert model._meta.managed is False, model
        columns = {**reference[model._meta.db_table]["columns"],
                   **ALLOWED_EXTRAS.get(model._meta.db_table, {"columns": {}})["columns"]}
        fields = {f.column: f for f in model._meta.concrete_fields}
        if set(fields) != set(columns):
            problems.append(f"{model.__name__}: fields {sorted(fields)} vs columns {sorted(columns)}")
            continue
        for name, field in fields.items():
            spec = columns[name]
            if spec["length"] is not None and getattr(field, "max_length", None) != spec["length"]:
                problems.append(f"{model.__name__}.{name}: max_length {field.max_length}, column {spec['length']}")
            if field.null != (spec["nullable"] == "YES") and not field.primary_key:
                problems.append(f"{model.__name__}.{name}: null={field.null}, column nullable {spec['nullable']}")
    assert not problems, "\n".join(problems)


# --- SQLite -------------------------------------------------------------------------------------------------

_SQLITE_TO_PG = {"INTEGER": "integer", "SMALLINT": "smallint", "REAL": "real", "TEXT": "text", "BLOB": "bytea",
                 "TIMESTAMP": "timestamp without time zone"}


def _pg_default(value: str | None) -> str | None:
    if value is None or value.startswith("nextval("):
        return None
    value = re.sub(r"::[a-z ]+$", "", value)
    return None if value == "NULL" else value


def test_sqlite_variant_has_the_same_tables(kamailio_reference):
    migration = import_module("voipadmin.kamailio.migrations.0001_kamailio_schema")
    db = sqlite3.connect(":memory:")
    for statement in migration.schema_statements("sqlite") + _ACC_EXTRAS.statements("sqlite"):
        db.execute(statement)

    problems = []
    for table, kamailio_spec in kamailio_reference["schema"].items():
        extras = ALLOWED_EXTRAS.get(table, {"columns": {}, "indexes": {}})
        first_extra = len(kamailio_spec["columns"]) + 1
        spec = {"columns": {**kamailio_spec["columns"],
                            **{c: {**v, "position": first_extra + i, "nullable": "YES", "default": None,
                                   "type": "integer" if v["type"] == "bigint" else v["type"]}
                               for i, (c, v) in enumerate(extras["columns"].items())}},
                "indexes": {**kamailio_spec["indexes"], **extras["indexes"]}}
        info = db.execute(f"PRAGMA table_info({table})").fetchall()
        names = [row[1] for row in info]
        want_names = sorted(spec["columns"], key=lambda c: spec["columns"][c]["position"])
        if names != want_names:
            problems.append(f"{table}: columns {names}, Kamailio has {want_names}")
            continue
        for _cid, name, decl, notnull, default, pk in info:
            col = spec["columns"][name]
            match = re.fullmatch(r"VARCHAR\((\d+)\)", decl)
            kind, length = ("character varying", int(match.group(1))) if match else (_SQLITE_TO_PG.get(decl, decl), None)
            if pk:
                kind = "integer"
            got = (kind, length, "NO" if (notnull or pk) else "YES", None if default in (None, "NULL") else default)
            want = (col["type"], col["length"], col["nullable"], _pg_default(col["default"]))
            if got != want:
                problems.append(f"{table}.{name}: sqlite {got}, Kamailio {want}")
        unique_sqlite = sorted(
            tuple(r[2] for r in db.execute(f"PRAGMA index_info('{idx[1]}')"))
            for idx in db.execute(f"PRAGMA index_list({table})") if idx[2]
        )
        unique_pg = sorted(tuple(i["columns"]) for i in spec["indexes"].values() if i["unique"] and not i["primary"])
        if unique_sqlite != unique_pg:
            problems.append(f"{table}: unique indexes {unique_sqlite}, Kamailio {unique_pg}")
        plain_sqlite = {
            idx[1]: [r[2] for r in db.execute(f"PRAGMA index_info('{idx[1]}')")]
            for idx in db.execute(f"PRAGMA index_list({table})") if not idx[2]
        }
        plain_pg = {n: i["columns"] for n, i in spec["indexes"].items() if not i["unique"]}
        if plain_sqlite != plain_pg:
            problems.append(f"{table}: indexes {plain_sqlite}, Kamailio {plain_pg}")
    versions = dict(db.execute("SELECT table_name, table_version FROM version").fetchall())
    if versions != kamailio_reference["versions"]:
        problems.append(f"version rows {versions}, Kamailio {kamailio_reference['versions']}")
    assert not problems, "SQLite variant differs:\n  " + "\n  ".join(problems)
