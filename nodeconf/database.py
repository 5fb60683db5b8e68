"""The database roles and schemas Asterisk nodes read the estate through (PostgreSQL).

Two ways for a node to see the shared database, both set up by ``manage.py asterisk_realtime_schemas``:

* **estate** (role ``asterisk``, schema ``public``): the whole estate's users, mailboxes and service-code
  dialplan; any node can serve any site (the estate's generic media servers).
* **site** (role ``asterisk_<slug>``, schema ``asterisk_<slug>``): one site only. The schema holds the
  same realtime views filtered to the site, its own ``ps_contacts``, ``cdr`` and ``cel`` views that take its
  call records and channel events into the shared tables, and the site's ``extensions`` rows. The role's
  ``search_path`` is that schema; it can read its views, update its voicemail PINs (written back by a
  SECURITY DEFINER trigger, so it never touches ``users_sipuser``), write contacts and insert CDRs and
  channel events — nothing else.

Role passwords are never stored: each is an HMAC of the role name under the newest
``VOIPADMIN_CREDENTIALS_KEY``, so ``asterisk_config`` writes the same one the role was given. Rotating
that key means running ``asterisk_realtime_schemas`` and ``asterisk_config`` again.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

from django.conf import settings
from django.db import connection

from cdrs.models import Cdr, Cel
from sites.models import Site
from users import realtime

from .asterisk import DatabaseAccess

ESTATE_ROLE = "asterisk"
#: Every CDR column but ``id`` (left to the table's DEFAULT when a node inserts through a view).
CDR_COLUMNS = [f.column for f in Cdr._meta.concrete_fields if f.column != "id"]
#: Every channel event column but ``id`` (cel_pgsql writes DEFAULT for a column it has no value for).
CEL_COLUMNS = [f.column for f in Cel._meta.concrete_fields if f.column != "id"]


def role_name(site: Site | None = None) -> str:
    return realtime.site_schema_name(site.slug) if site else ESTATE_ROLE


def role_password(role: str) -> str:
    key = settings.CREDENTIALS_KEYS[0]
    digest = hmac.new(key, f"voipadmin-asterisk-db-role:{role}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _q(identifier: str) -> str:
    return connection.ops.quote_name(identifier)


def _role_sql(role: str, schema: str) -> list[str]:
    db = _q(connection.settings_dict["NAME"])
    password = role_password(role).replace("'", "''")
    return [
        f"DO $$ BEGIN CREATE ROLE {_q(role)} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        f"ALTER ROLE {_q(role)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'",
        f"ALTER ROLE {_q(role)} IN DATABASE {db} SET search_path = {_q(schema)}",
        f"GRANT CONNECT ON DATABASE {db} TO {_q(role)}",
        f"GRANT USAGE ON SCHEMA {_q(schema)} TO {_q(role)}",
        f"GRANT SELECT ON {schema}.ps_endpoints, {schema}.ps_auths, {schema}.ps_aors, {schema}.extensions "
        f"TO {_q(role)}",
        f"GRANT SELECT, UPDATE ON {schema}.voicemail TO {_q(role)}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.ps_contacts TO {_q(role)}",
        f"GRANT INSERT ON {schema}.cdr TO {_q(role)}",
        # the cdr table's DEFAULT calls nextval() with the inserting role's rights
        f"GRANT USAGE ON SEQUENCE public.cdr_id_seq TO {_q(role)}",
        # channel events (cel_pgsql): a conference leg's talk time; cel.id is an identity column
        f"GRANT INSERT ON {schema}.cel TO {_q(role)}",
    ]


def estate_sql() -> list[str]:
    """The estate-wide role on the public views and tables."""
    return _role_sql(ESTATE_ROLE, "public")


def site_sql(site: Site) -> list[str]:
    """Schema ``asterisk_<slug>`` (views, contacts, CDR view, dialplan rows) and its role."""
    schema = realtime.site_schema_name(site.slug)
    context = site.asterisk_context.replace("'", "''")
    columns = ", ".join(_q(c) for c in CDR_COLUMNS)
    out = realtime.site_schema_sql(site.slug)
    out += realtime.save_grants_sql(schema, ("extensions", "cdr", "cel"))
    out += [
        f"DROP VIEW IF EXISTS {schema}.extensions",
        # the site's own context, and contexts that belong to no site (estate-wide applications)
        f"CREATE VIEW {schema}.extensions AS SELECT id, context, exten, priority, app, appdata "
        f"FROM public.extensions WHERE context = '{context}' OR context NOT LIKE 'site-%'",
        f"DROP VIEW IF EXISTS {schema}.cdr",
        # an auto-updatable view without ``id``: cdr_pgsql inserts the columns it finds, the table numbers
        f"CREATE VIEW {schema}.cdr AS SELECT {columns} FROM public.cdr",
        # the same for channel events: cel_pgsql finds the view's columns in current_schema()
        f"DROP VIEW IF EXISTS {schema}.cel",
        f"CREATE VIEW {schema}.cel AS SELECT {', '.join(_q(c) for c in CEL_COLUMNS)} FROM public.cel",
        f"CREATE TABLE IF NOT EXISTS {schema}.ps_contacts (LIKE public.ps_contacts INCLUDING ALL)",
    ]
    out += realtime.restore_grants_sql()
    out += _role_sql(schema, schema)
    return out


def apply(statements: list[str], *, attempts: int = 5) -> None:
    """Run ``statements`` in one transaction. Roles are cluster-wide: two databases of one cluster (or two
    runs) setting the same role at once make PostgreSQL refuse one with "tuple concurrently updated";
    that transaction is simply run again."""
    from django.db import DatabaseError, transaction

    for attempt in range(attempts):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
            return
        except DatabaseError as exc:
            if "concurrently" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def setup_sql() -> list[tuple[str, list[str]]]:
    """(what, statements) for the estate role and every site."""
    steps = [(f"role {ESTATE_ROLE}: the whole estate (schema public)", estate_sql())]
    for site in Site.objects.order_by("slug"):
        schema = realtime.site_schema_name(site.slug)
        steps.append((f"role {schema}: site {site.slug} only (schema {schema})", site_sql(site)))
    return steps


def access(*, site: Site | None, host: str | None = None, port: int | None = None,
           name: str | None = None) -> DatabaseAccess:
    """How a node connects: as the estate role, or as ``site``'s role."""
    default = connection.settings_dict
    role = role_name(site)
    return DatabaseAccess(
        host=host or settings.ASTERISK_DB_HOST or default.get("HOST") or "127.0.0.1",
        port=int(port or settings.ASTERISK_DB_PORT or default.get("PORT") or 5432),
        name=name or settings.ASTERISK_DB_NAME or default["NAME"],
        user=role, password=role_password(role),
        schema="public" if site is None else realtime.site_schema_name(site.slug),
        site_slug=site.slug if site else None,
    )
