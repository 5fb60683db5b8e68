"""Asterisk realtime views (``ps_endpoints``, ``ps_auths``, ``ps_aors``, ``voicemail``) over SipUser.

Asterisk reads its PJSIP endpoints and mailboxes from tables named and shaped exactly as its own
``contrib/ast-db-manage`` schema. voipadmin keeps one source of truth (``users_sipuser``) and exposes it as
VIEWs with every column of that schema, in Asterisk's order and with Asterisk's types (enum types included,
created when missing), so sorcery sees all its columns; unused ones are typed NULLs.

* Only enabled users appear; ``voicemail`` lists only users with voicemail on.
* Endpoint context is ``site-<slug>``; mailboxes are ``<ext>@<slug>`` (voicemail context = site slug).
* Fixed values each Asterisk's own config must match: transport ``transport-udp`` (pjsip.conf), and
  voicemail ``tz`` = the site slug (a ``[zonemessages]`` entry ``<slug>=<site time zone>|...`` in
  voicemail.conf). Endpoints authenticate with ``auth_type=md5``, ``md5_cred`` = the user's HA1 and
  ``realm`` = the site's SIP domain — the same hash Kamailio checks, so one password works on both.
* ``voicemail`` is updatable: Asterisk's VoiceMailMain writes ``password`` (PIN changed from the phone)
  through realtime; an INSTEAD OF UPDATE trigger writes it back to ``users_sipuser.voicemail_pin``
  (also ``fullname``/``email`` if Asterisk ever writes them) and, on PostgreSQL, records the change in the
  audit log.
* Per-site visibility: :func:`site_schema_sql` builds the same views filtered to one site in a schema
  ``asterisk_<slug>``; give each site's Asterisk a DB role whose ``search_path`` is that schema
  (``manage.py asterisk_realtime_schemas`` creates them). The public views list the whole estate.

**Values Asterisk reads are well-formed, whatever is stored.** ``voipadmin.grammar`` refuses what would break
them at input, but rows stored before it existed (or written around the portal) go through the views too:

* ``ps_endpoints.callerid`` is always ``"<name>" <<number>>`` and never longer than the column (40): the
  name is the user's caller ID name, else its display name; the number the caller ID's number, else the
  extension. Characters ``voipadmin.grammar`` refuses in a name (control and format characters, ``" < > \\ ;``)
  become a space, and a long name is cut *inside* the quotes, on a character boundary, so the closing quote
  and ``<number>`` always survive (:func:`callerid` is the same rule in Python).
* ``voicemail.fullname`` is the display name cleaned the same way (app_voicemail writes it into mail
  headers); ``voicemail.email`` is NULL unless it is a plain ``local@host`` address.

PostgreSQL (what Asterisk reads) strips every character of ``grammar.UNSAFE_CATEGORIES``; the embedded
SQLite views (no Asterisk reads them; SQLite has no regex replace) write an empty name instead of one that
holds such a character.

Caution for later migrations: PostgreSQL refuses ``ALTER COLUMN ... TYPE`` on a column a view uses
(users_sipuser and sites_site ``slug``/``sip_domain``/``time_zone``): drop the views first
(:func:`postgres_drop_sql`) and recreate them (:func:`postgres_sql`) in the same migration.
"""
from __future__ import annotations

import re

from voipadmin import grammar

# Generated from ../shared/contracts/asterisk_realtime.json (Asterisk's realtime schema, ast-db-manage head;
# checked against Asterisk 22 LTS in tests/asterisk).
# (column, PostgreSQL type) in Asterisk's column order.
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "ps_endpoints": [
        ("id", "character varying(255)"), ("transport", "character varying(40)"),
        ("aors", "character varying(2048)"), ("auth", "character varying(255)"),
        ("context", "character varying(40)"), ("disallow", "character varying(200)"),
        ("allow", "character varying(200)"), ("direct_media", "ast_bool_values"),
        ("connected_line_method", "pjsip_connected_line_method_values"),
        ("direct_media_method", "pjsip_connected_line_method_values"),
        ("direct_media_glare_mitigation", "pjsip_direct_media_glare_mitigation_values"),
        ("disable_direct_media_on_nat", "ast_bool_values"), ("dtmf_mode", "pjsip_dtmf_mode_values_v3"),
        ("external_media_address", "character varying(40)"), ("force_rport", "ast_bool_values"),
        ("ice_support", "ast_bool_values"), ("identify_by", "character varying(80)"),
        ("mailboxes", "character varying(40)"), ("moh_suggest", "character varying(40)"),
        ("outbound_auth", "character varying(255)"), ("outbound_proxy", "character varying(255)"),
        ("rewrite_contact", "ast_bool_values"), ("rtp_ipv6", "ast_bool_values"),
        ("rtp_symmetric", "ast_bool_values"), ("send_diversion", "ast_bool_values"),
        ("send_pai", "ast_bool_values"), ("send_rpid", "ast_bool_values"), ("timers_min_se", "integer"),
        ("timers", "pjsip_timer_values"), ("timers_sess_expires", "integer"),
        ("callerid", "character varying(40)"), ("callerid_privacy", "pjsip_cid_privacy_values"),
        ("callerid_tag", "character varying(40)"), ("100rel", "pjsip_100rel_values_v2"),
        ("aggregate_mwi", "ast_bool_values"), ("trust_id_inbound", "ast_bool_values"),
        ("trust_id_outbound", "ast_bool_values"), ("use_ptime", "ast_bool_values"),
        ("use_avpf", "ast_bool_values"), ("media_encryption", "pjsip_media_encryption_values"),
        ("inband_progress", "ast_bool_values"), ("call_group", "character varying(40)"),
        ("pickup_group", "character varying(40)"), ("named_call_group", "character varying(40)"),
        ("named_pickup_group", "character varying(40)"), ("device_state_busy_at", "integer"),
        ("fax_detect", "ast_bool_values"), ("t38_udptl", "ast_bool_values"),
        ("t38_udptl_ec", "pjsip_t38udptl_ec_values"), ("t38_udptl_maxdatagram", "integer"),
        ("t38_udptl_nat", "ast_bool_values"), ("t38_udptl_ipv6", "ast_bool_values"),
        ("tone_zone", "character varying(40)"), ("language", "character varying(40)"),
        ("one_touch_recording", "ast_bool_values"), ("record_on_feature", "character varying(40)"),
        ("record_off_feature", "character varying(40)"), ("rtp_engine", "character varying(40)"),
        ("allow_transfer", "ast_bool_values"), ("allow_subscribe", "ast_bool_values"),
        ("sdp_owner", "character varying(40)"), ("sdp_session", "character varying(40)"),
        ("tos_audio", "character varying(10)"), ("tos_video", "character varying(10)"),
        ("sub_min_expiry", "integer"), ("from_domain", "character varying(40)"),
        ("from_user", "character varying(40)"), ("mwi_from_user", "character varying(40)"),
        ("dtls_verify", "character varying(40)"), ("dtls_rekey", "character varying(40)"),
        ("dtls_cert_file", "character varying(200)"), ("dtls_private_key", "character varying(200)"),
        ("dtls_cipher", "character varying(200)"), ("dtls_ca_file", "character varying(200)"),
        ("dtls_ca_path", "character varying(200)"), ("dtls_setup", "pjsip_dtls_setup_values"),
        ("srtp_tag_32", "ast_bool_values"), ("media_address", "character varying(40)"),
        ("redirect_method", "pjsip_redirect_method_values"), ("set_var", "text"), ("cos_audio", "integer"),
        ("cos_video", "integer"), ("message_context", "character varying(40)"),
        ("force_avp", "ast_bool_values"), ("media_use_received_transport", "ast_bool_values"),
        ("accountcode", "character varying(80)"), ("user_eq_phone", "ast_bool_values"),
        ("moh_passthrough", "ast_bool_values"), ("media_encryption_optimistic", "ast_bool_values"),
        ("rpid_immediate", "ast_bool_values"), ("g726_non_standard", "ast_bool_values"),
        ("rtp_keepalive", "integer"), ("rtp_timeout", "integer"), ("rtp_timeout_hold", "integer"),
        ("bind_rtp_to_media_address", "ast_bool_values"), ("voicemail_extension", "character varying(40)"),
        ("mwi_subscribe_replaces_unsolicited", "ast_bool_values"), ("deny", "character varying(95)"),
        ("permit", "character varying(95)"), ("acl", "character varying(40)"),
        ("contact_deny", "character varying(95)"), ("contact_permit", "character varying(95)"),
        ("contact_acl", "character varying(40)"), ("subscribe_context", "character varying(40)"),
        ("fax_detect_timeout", "integer"), ("contact_user", "character varying(80)"),
        ("preferred_codec_only", "ast_bool_values"), ("asymmetric_rtp_codec", "ast_bool_values"),
        ("rtcp_mux", "ast_bool_values"), ("allow_overlap", "ast_bool_values"),
        ("refer_blind_progress", "ast_bool_values"), ("notify_early_inuse_ringing", "ast_bool_values"),
        ("max_audio_streams", "integer"), ("max_video_streams", "integer"), ("webrtc", "ast_bool_values"),
        ("dtls_fingerprint", "sha_hash_values"), ("incoming_mwi_mailbox", "character varying(40)"),
        ("bundle", "ast_bool_values"), ("dtls_auto_generate_cert", "ast_bool_values"),
        ("follow_early_media_fork", "ast_bool_values"), ("accept_multiple_sdp_answers", "ast_bool_values"),
        ("suppress_q850_reason_headers", "ast_bool_values"), ("trust_connected_line", "ast_bool_values"),
        ("send_connected_line", "ast_bool_values"), ("ignore_183_without_sdp", "ast_bool_values"),
        ("codec_prefs_incoming_offer", "character varying(128)"),
        ("codec_prefs_outgoing_offer", "character varying(128)"),
        ("codec_prefs_incoming_answer", "character varying(128)"),
        ("codec_prefs_outgoing_answer", "character varying(128)"), ("stir_shaken", "ast_bool_values"),
        ("send_history_info", "ast_bool_values"), ("allow_unauthenticated_options", "ast_bool_values"),
        ("t38_bind_udptl_to_media_address", "ast_bool_values"),
        ("geoloc_incoming_call_profile", "character varying(80)"),
        ("geoloc_outgoing_call_profile", "character varying(80)"),
        ("incoming_call_offer_pref", "pjsip_incoming_call_offer_pref_values"),
        ("outgoing_call_offer_pref", "pjsip_outgoing_call_offer_pref_values"),
        ("stir_shaken_profile", "character varying(80)"),
        ("security_negotiation", "security_negotiation_values"),
        ("security_mechanisms", "character varying(512)"), ("send_aoc", "ast_bool_values"),
        ("overlap_context", "character varying(80)"), ("tenantid", "character varying(80)"),
        ("suppress_moh_on_sendonly", "ast_bool_values"), ("follow_redirect_methods", "character varying(95)"),
        ("rtp_port_start", "integer"), ("rtp_port_end", "integer"),
    ],
    "ps_auths": [
        ("id", "character varying(255)"), ("auth_type", "pjsip_auth_type_values_v2"),
        ("nonce_lifetime", "integer"), ("md5_cred", "character varying(40)"),
        ("password", "character varying(80)"), ("realm", "character varying(255)"),
        ("username", "character varying(40)"), ("refresh_token", "character varying(255)"),
        ("oauth_clientid", "character varying(255)"), ("oauth_secret", "character varying(255)"),
        ("password_digest", "character varying(1024)"), ("supported_algorithms_uas", "character varying(1024)"),
        ("supported_algorithms_uac", "character varying(1024)"),
    ],
    "ps_aors": [
        ("id", "character varying(255)"), ("contact", "character varying(255)"),
        ("default_expiration", "integer"), ("mailboxes", "character varying(80)"), ("max_contacts", "integer"),
        ("minimum_expiration", "integer"), ("remove_existing", "ast_bool_values"),
        ("qualify_frequency", "integer"), ("authenticate_qualify", "ast_bool_values"),
        ("maximum_expiration", "integer"), ("outbound_proxy", "character varying(255)"),
        ("support_path", "ast_bool_values"), ("qualify_timeout", "double precision"),
        ("voicemail_extension", "character varying(40)"), ("remove_unavailable", "ast_bool_values"),
        ("qualify_2xx_only", "ast_bool_values"),
    ],
    "voicemail": [
        ("uniqueid", "integer"), ("context", "character varying(80)"), ("mailbox", "character varying(80)"),
        ("password", "character varying(80)"), ("fullname", "character varying(80)"),
        ("alias", "character varying(80)"), ("email", "character varying(80)"),
        ("pager", "character varying(80)"), ("attach", "yes_no_values"), ("attachfmt", "character varying(10)"),
        ("serveremail", "character varying(80)"), ("language", "character varying(20)"),
        ("tz", "character varying(30)"), ("deletevoicemail", "yes_no_values"), ("saycid", "yes_no_values"),
        ("sendvoicemail", "yes_no_values"), ("review", "yes_no_values"), ("tempgreetwarn", "yes_no_values"),
        ("operator", "yes_no_values"), ("envelope", "yes_no_values"), ("sayduration", "integer"),
        ("forcename", "yes_no_values"), ("forcegreetings", "yes_no_values"),
        ("callback", "character varying(80)"), ("dialout", "character varying(80)"),
        ("exitcontext", "character varying(80)"), ("maxmsg", "integer"), ("volgain", "numeric"),
        ("imapuser", "character varying(80)"), ("imappassword", "character varying(80)"),
        ("imapserver", "character varying(80)"), ("imapport", "character varying(8)"),
        ("imapflags", "character varying(80)"), ("stamp", "timestamp without time zone"),
    ],
}

# Asterisk's enum types (PostgreSQL), created by the migration when missing.
ENUMS: dict[str, tuple[str, ...]] = {
    "ast_bool_values": ('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes'),
    "pjsip_connected_line_method_values": ('invite', 'reinvite', 'update'),
    "pjsip_direct_media_glare_mitigation_values": ('none', 'outgoing', 'incoming'),
    "pjsip_dtmf_mode_values_v3": ('rfc4733', 'inband', 'info', 'auto', 'auto_info'),
    "pjsip_timer_values": ('forced', 'no', 'required', 'yes'),
    "pjsip_cid_privacy_values": ('allowed_not_screened', 'allowed_passed_screened', 'allowed_failed_screened', 'allowed', 'prohib_not_screened', 'prohib_passed_screened', 'prohib_failed_screened', 'prohib', 'unavailable'),
    "pjsip_100rel_values_v2": ('no', 'required', 'peer_supported', 'yes'),
    "pjsip_media_encryption_values": ('no', 'sdes', 'dtls'),
    "pjsip_t38udptl_ec_values": ('none', 'fec', 'redundancy'),
    "pjsip_dtls_setup_values": ('active', 'passive', 'actpass'),
    "pjsip_redirect_method_values": ('user', 'uri_core', 'uri_pjsip'),
    "sha_hash_values": ('SHA-1', 'SHA-256'),
    "pjsip_incoming_call_offer_pref_values": ('local', 'local_first', 'remote', 'remote_first'),
    "pjsip_outgoing_call_offer_pref_values": ('local', 'local_merge', 'local_first', 'remote', 'remote_merge', 'remote_first'),
    "security_negotiation_values": ('no', 'mediasec'),
    "pjsip_auth_type_values_v2": ('md5', 'userpass', 'google_oauth'),
    "yes_no_values": ('yes', 'no'),
}

TABLES = ("ps_endpoints", "ps_auths", "ps_aors", "voicemail")

_EXT = "CAST(u.extension AS VARCHAR(20))"
_MAILBOX = f"CASE WHEN u.voicemail_enabled THEN {_EXT} || '@' || s.slug ELSE NULL END"


def _yes(cond: str) -> str:
    return f"CASE WHEN {cond} THEN 'yes' ELSE 'no' END"


#: ps_endpoints.callerid is varchar(40) in Asterisk's schema: a longer value would be cut by the cast.
CALLERID_MAX = 40
#: what ``"`` + name + ``" <`` + number + ``>`` adds to the name and the number
_CALLERID_FRAME = 5
#: a caller ID's number (the views read the same pattern out of a stored caller ID)
_NUMBER = grammar.CALLER_NUMBER
_BAD_RUN = re.compile(r" *B+[ B]*")


def clean_name(name: str) -> str:
    """A stored name as the views write it: each run of characters a display name may not hold (and the
    spaces around it) becomes one space; outer spaces go (the same as :func:`_pg_clean`)."""
    mask = "".join("B" if ch in grammar.DISPLAY_NAME_DELIMITERS or grammar.unsafe_character(ch) else
                   " " if ch == " " else "." for ch in name)
    out, at = [], 0
    for run in _BAD_RUN.finditer(mask):
        out += [name[at:run.start()], " "]
        at = run.end()
    out.append(name[at:])
    return "".join(out).strip(" ")


_NUMBER_ONLY = re.compile(_NUMBER + r"\Z")
_WITH_NUMBER = re.compile(r"(.*)<(" + _NUMBER + r")>\Z", re.DOTALL)


def callerid(name: str, caller_id: str, extension: int | str) -> str:
    """``ps_endpoints.callerid`` of a user, computed as the PostgreSQL view does (see the module docstring)."""
    cid = caller_id or ""
    if not cid or _NUMBER_ONLY.match(cid):
        raw, number = name, cid or str(extension)
    elif match := _WITH_NUMBER.match(cid):
        raw, number = match.group(1), match.group(2)
    else:
        raw, number = cid, str(extension)
    shown = clean_name(raw)[:CALLERID_MAX - _CALLERID_FRAME - len(number)].rstrip(" ")
    return f'"{shown}" <{number}>'


# Column -> SQL expression (valid on PostgreSQL and SQLite) over users_sipuser u JOIN sites_site s.
# Every other column of the contract is a typed NULL.
EXPRESSIONS: dict[str, dict[str, str]] = {
    "ps_endpoints": {
        "id": _EXT,
        "transport": "'transport-udp'",
        "aors": _EXT,
        "auth": _EXT,
        "context": "'site-' || s.slug",
        "disallow": "'all'",
        "allow": "COALESCE(NULLIF(u.codecs, ''), 'alaw,ulaw,g722')",
        "direct_media": _yes("NOT u.nat"),
        "dtmf_mode": "'rfc4733'",
        "force_rport": _yes("u.nat"),
        "rewrite_contact": _yes("u.nat"),
        "rtp_symmetric": _yes("u.nat"),
        "mailboxes": _MAILBOX,
        # "callerid": per database, see vendor_expressions
        "from_domain": "s.sip_domain",
    },
    "ps_auths": {
        "id": _EXT,
        "auth_type": "'md5'",
        "md5_cred": "u.ha1",
        "realm": "s.sip_domain",
        "username": _EXT,
    },
    "ps_aors": {
        "id": _EXT,
        "mailboxes": _MAILBOX,
        "max_contacts": "1",
        "remove_existing": "'yes'",
        "qualify_frequency": "0",
    },
    "voicemail": {
        "uniqueid": "u.id",
        "context": "s.slug",
        "mailbox": _EXT,
        "password": "u.voicemail_pin",
        # "fullname", "email": per database, see vendor_expressions
        "attach": "'yes'",
        "tz": "s.slug",
    },
}


def _pg_escape(cp: int) -> str:
    return f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}"


def _pg_unsafe_class() -> str:
    """The inside of a PostgreSQL regex bracket expression matching every unsafe character (NUL excluded:
    PostgreSQL text cannot hold it)."""
    parts = []
    for first, last in grammar.unsafe_ranges():
        first = max(first, 1)
        parts.append(_pg_escape(first) if first == last else f"{_pg_escape(first)}-{_pg_escape(last)}")
    return "".join(parts)


def _pg_clean(expr: str) -> str:
    """SQL (PostgreSQL) for :func:`clean_name` of ``expr``."""
    bad = _pg_unsafe_class() + '"<>\\\\;'
    return f"btrim(regexp_replace({expr}, '[ ]*[{bad}]+[ {bad}]*', ' ', 'g'), ' ')"


def _pg_callerid() -> str:
    cid = "COALESCE(u.caller_id, '')"
    number_only = f"{cid} ~ '^{_NUMBER}$'"
    with_number = f"{cid} ~ '<{_NUMBER}>$'"
    number = (f"CASE WHEN {number_only} THEN {cid} "
              f"WHEN {with_number} THEN substring({cid} from '<({_NUMBER})>$') ELSE {_EXT} END")
    raw_name = (f"CASE WHEN {cid} = '' OR {number_only} THEN u.name "
                f"WHEN {with_number} THEN substring({cid} from '^(.*)<{_NUMBER}>$') ELSE {cid} END")
    room = f"{CALLERID_MAX - _CALLERID_FRAME} - length({number})"
    return f"""'"' || rtrim(left({_pg_clean(raw_name)}, {room}), ' ') || '" <' || {number} || '>'"""


_MAIL = "COALESCE(NULLIF(u.voicemail_email, ''), NULLIF(u.email, ''))"
_PG_MAIL_OK = "^[A-Za-z0-9!#$%&''*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+$"


def _sqlite_unsafe(expr: str) -> str:
    """SQL (SQLite): does ``expr`` hold a character a display name may not (one GLOB, any code point)?"""
    ranges = "".join(chr(max(a, 1)) if a == b else f"{chr(max(a, 1))}-{chr(b)}" for a, b in grammar.unsafe_ranges())
    return f"({expr} GLOB '*[{ranges}{grammar.DISPLAY_NAME_DELIMITERS}]*')"


def _sqlite_clean(expr: str) -> str:
    """SQL (SQLite): ``expr`` without outer spaces, or '' when it holds an unsafe character (SQLite has no
    regex replace; no Asterisk reads the embedded database, so well-formed is enough)."""
    return f"CASE WHEN {_sqlite_unsafe(expr)} THEN '' ELSE trim({expr}, ' ') END"


def _sqlite_callerid() -> str:
    cid = "COALESCE(u.caller_id, '')"
    inside = f"substr({cid}, instr({cid}, '<') + 1, length({cid}) - instr({cid}, '<') - 1)"
    number_only = f"({cid} <> '' AND {cid} NOT GLOB '*[^0-9+]*' AND length({cid}) <= 21)"
    with_number = (f"({cid} GLOB '*<[0-9+]*>' AND {inside} <> '' AND {inside} NOT GLOB '*[^0-9+]*' "
                   f"AND length({inside}) <= 21)")
    number = f"CASE WHEN {number_only} THEN {cid} WHEN {with_number} THEN {inside} ELSE {_EXT} END"
    raw_name = (f"CASE WHEN {cid} = '' OR {number_only} THEN u.name "
                f"WHEN {with_number} THEN trim(substr({cid}, 1, instr({cid}, '<') - 1), ' \"') ELSE {cid} END")
    room = f"{CALLERID_MAX - _CALLERID_FRAME} - length({number})"
    return f"""'"' || rtrim(substr({_sqlite_clean(raw_name)}, 1, {room}), ' ') || '" <' || {number} || '>'"""


def vendor_expressions(vendor: str) -> dict[str, dict[str, str]]:
    """The columns whose SQL differs per database: the ones that clean what they read (see the docstring)."""
    if vendor == "postgresql":
        return {"ps_endpoints": {"callerid": _pg_callerid()},
                "voicemail": {"fullname": _pg_clean("u.name"),
                              "email": f"CASE WHEN {_MAIL} ~ '{_PG_MAIL_OK}' THEN {_MAIL} END"}}
    return {"ps_endpoints": {"callerid": _sqlite_callerid()},
            "voicemail": {"fullname": f"NULLIF({_sqlite_clean('u.name')}, '')",
                          "email": f"CASE WHEN {_MAIL} NOT GLOB '*[^A-Za-z0-9!#$%&''*+/=?^_`{{|}}~.@-]*' "
                                   f"AND {_MAIL} GLOB '?*@?*' THEN {_MAIL} END"}}


WHERE = {
    "ps_endpoints": "u.enabled",
    "ps_auths": "u.enabled",
    "ps_aors": "u.enabled",
    "voicemail": "u.enabled AND u.voicemail_enabled",
}


def _sqlite_type(pg_type: str) -> str:
    if pg_type == "integer":
        return "INTEGER"
    if pg_type == "double precision":
        return "REAL"
    if pg_type == "numeric":
        return "NUMERIC"
    if pg_type.startswith("timestamp"):
        return "TIMESTAMP"
    return "TEXT"  # varchar, text and Asterisk's enums


def _select(table: str, vendor: str, site_filter: str | None = None) -> str:
    exprs = {**EXPRESSIONS[table], **vendor_expressions(vendor).get(table, {})}
    cols = []
    for name, pg_type in COLUMNS[table]:
        expr = exprs.get(name, "NULL")
        if vendor == "postgresql":
            typ = f"public.{pg_type}" if pg_type in ENUMS else pg_type  # independent of search_path
        else:
            typ = _sqlite_type(pg_type)
        cols.append(f'CAST({expr} AS {typ}) AS "{name}"')
    where = WHERE[table] + (f" AND {site_filter}" if site_filter else "")
    return ("SELECT " + ",\n       ".join(cols) +
            "\nFROM users_sipuser u JOIN sites_site s ON s.id = u.site_id\nWHERE " + where)


def _check_schema(schema: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"bad schema name {schema!r}")
    return schema


def _enum_sql() -> list[str]:
    out = []
    for name, values in ENUMS.items():
        labels = ", ".join(f"'{v}'" for v in values)
        out.append(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                   f"WHERE t.typname = '{name}' AND n.nspname = 'public') THEN "
                   f"CREATE TYPE public.{name} AS ENUM ({labels}); END IF; END $$")
    return out


def postgres_sql(schema: str = "public", site_slug: str | None = None) -> list[str]:
    """Statements creating (or replacing) the four views and the voicemail write-back trigger."""
    schema = _check_schema(schema)
    site_filter = None
    if site_slug is not None:
        site_filter = "s.slug = '" + site_slug.replace("'", "''") + "'"
    out = _enum_sql() if schema == "public" else [f"CREATE SCHEMA IF NOT EXISTS {schema}"]
    out += save_grants_sql(schema, TABLES)
    for table in TABLES:
        out.append(f"DROP VIEW IF EXISTS {schema}.{table}")
        out.append(f"CREATE VIEW {schema}.{table} AS\n{_select(table, 'postgresql', site_filter)}")
    # SECURITY DEFINER: the node's database role may update its voicemail view and nothing else; the
    # write-back to users_sipuser and the audit entry run with the rights of the migration's owner.
    out.append(f"""CREATE OR REPLACE FUNCTION {schema}.voicemail_realtime_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    -- Asterisk updates by uniqueid (or by context+mailbox, which the view resolves to the same row).
    UPDATE public.users_sipuser
       SET voicemail_pin = NEW.password,
           -- (the view shows the name cleaned: only a name Asterisk changed is written back, cleaned too)
           name = CASE WHEN NEW.fullname IS DISTINCT FROM OLD.fullname
                       THEN COALESCE(NULLIF({_pg_clean("NEW.fullname")}, ''), name) ELSE name END,
           voicemail_email = CASE WHEN NEW.email IS DISTINCT FROM OLD.email THEN COALESCE(NEW.email, '')
                                  ELSE voicemail_email END,
           updated = clock_timestamp()
     WHERE id = OLD.uniqueid;
    IF NEW.password IS DISTINCT FROM OLD.password THEN
        INSERT INTO public.voipadmin_changelogentry
               (time, user_id, actor, source, action, content_type_id, object_id, object_repr, message, changes)
        SELECT clock_timestamp(), NULL, 'asterisk (phone)', 'system', 'update', ct.id, OLD.uniqueid::text,
               LEFT(OLD.mailbox || ' ' || COALESCE(OLD.fullname, ''), 200),
               'Voicemail PIN changed from the phone',
               '{{"voicemail_pin": ["********", "******** (changed)"]}}'::jsonb
          FROM public.django_content_type ct WHERE ct.app_label = 'users' AND ct.model = 'sipuser';
    END IF;
    RETURN NEW;
END
$$""")
    out.append(f"CREATE TRIGGER voicemail_realtime_update INSTEAD OF UPDATE ON {schema}.voicemail "
               f"FOR EACH ROW EXECUTE FUNCTION {schema}.voicemail_realtime_update()")
    out += restore_grants_sql()
    return out


def save_grants_sql(schema: str, relations) -> list[str]:
    """Remember who may read/update these views before they are dropped and created again.

    A view that is dropped loses its grants, and the database roles of the Asterisk nodes
    (``manage.py asterisk_realtime_schemas``) would lose their access at the next migration that
    reshapes a view. Run inside a transaction; :func:`restore_grants_sql` gives them back.
    """
    names = ", ".join(f"'{r}'" for r in relations)
    return [
        "CREATE TEMP TABLE IF NOT EXISTS voipadmin_saved_grants (rel text, grantee text, privilege text) "
        "ON COMMIT DROP",
        "INSERT INTO voipadmin_saved_grants SELECT c.oid::regclass::text, a.grantee::regrole::text, a.privilege_type "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a "
        f"WHERE n.nspname = '{_check_schema(schema)}' AND c.relname IN ({names}) "
        "AND a.grantee <> 0 AND a.grantee <> c.relowner",
    ]


def restore_grants_sql() -> list[str]:
    return [
        "DO $$ DECLARE r record; BEGIN "
        "FOR r IN SELECT * FROM voipadmin_saved_grants LOOP "
        "EXECUTE format('GRANT %s ON %s TO %s', r.privilege, r.rel, r.grantee); END LOOP; END $$",
        "DELETE FROM voipadmin_saved_grants",
    ]


def postgres_drop_sql(schema: str = "public") -> list[str]:
    schema = _check_schema(schema)
    out = [f"DROP VIEW IF EXISTS {schema}.{t}" for t in TABLES]
    out.append(f"DROP FUNCTION IF EXISTS {schema}.voicemail_realtime_update()")
    if schema != "public":
        out.append(f"DROP SCHEMA IF EXISTS {schema}")
    return out


def site_schema_name(slug: str) -> str:
    return _check_schema("asterisk_" + slug.replace("-", "_"))


def site_schema_sql(slug: str) -> list[str]:
    """Views of one site only, in schema ``asterisk_<slug>`` (PostgreSQL)."""
    return postgres_sql(site_schema_name(slug), site_slug=slug)


def sqlite_sql() -> list[str]:
    out = []
    for table in TABLES:
        out.append(f"DROP VIEW IF EXISTS {table}")
        out.append(f"CREATE VIEW {table} AS\n{_select(table, 'sqlite')}")
    out.append(f"""CREATE TRIGGER voicemail_realtime_update INSTEAD OF UPDATE ON voicemail
FOR EACH ROW BEGIN
    UPDATE users_sipuser
       SET voicemail_pin = NEW.password,
           name = CASE WHEN NEW.fullname IS NOT OLD.fullname AND NULLIF(NEW.fullname, '') IS NOT NULL
                       AND NOT {_sqlite_unsafe("NEW.fullname")} THEN trim(NEW.fullname, ' ') ELSE name END,
           voicemail_email = CASE WHEN NEW.email IS NOT OLD.email THEN COALESCE(NEW.email, '')
                                  ELSE voicemail_email END,
           updated = CURRENT_TIMESTAMP
     WHERE id = OLD.uniqueid;
END""")
    return out


def sqlite_drop_sql() -> list[str]:
    return ["DROP TRIGGER IF EXISTS voicemail_realtime_update", *[f"DROP VIEW IF EXISTS {t}" for t in TABLES]]


def create(schema_editor) -> None:
    """Migration helper: create the views for the connection's vendor."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = postgres_sql()
    elif vendor == "sqlite":
        statements = sqlite_sql()
    else:
        raise NotImplementedError(f"Asterisk realtime views are written for PostgreSQL and SQLite, not {vendor}")
    for sql in statements:
        schema_editor.execute(sql, params=None)


def drop(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = postgres_drop_sql() if vendor == "postgresql" else sqlite_drop_sql()
    for sql in statements:
        schema_editor.execute(sql, params=None)
