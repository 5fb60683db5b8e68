"""Kamailio 5.6's own tables in the shared estate database, seen from Django.

Every model is ``managed = False``: the tables belong to Kamailio and are created
by migration ``0001_kamailio_schema`` with Kamailio's exact DDL (the schema test in
``tests/kamailio/test_schema.py`` compares them column by column with
``/usr/share/kamailio/postgres/*-create.sql``). Never change a field here
without changing that DDL, and never ask Django to alter these tables.

Notes for code that writes rows:

* Kamailio reads ``subscriber`` on every REGISTER/INVITE (auth_db), so a new,
  changed or deleted subscriber takes effect immediately. ``dispatcher``,
  ``dialplan``, ``address``, ``trusted`` and ``uacreg`` are cached by Kamailio and
  need the matching JSON-RPC reload after a commit.
* ``Subscriber.password`` stays empty: Kamailio authenticates from ``ha1``/``ha1b``
  (see :mod:`voipadmin.kamailio.hashing`).
* Kamailio's timestamp columns are ``timestamp without time zone`` holding the
  Kamailio host's wall-clock time; Django returns them as naive datetimes.
* Non-unique indexes are not repeated in ``Meta`` (Django caps index names at 30
  characters, Kamailio's are longer); the migration's DDL lists them all.
* Columns with a database default use ``db_default`` (or a Python default equal
  to it), so an ORM insert gets what Kamailio's own tools would have written.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Value
from django.db.models.expressions import RawSQL


class KamailioModel(models.Model):
    """Base: integer SERIAL primary key named ``id``, as in every Kamailio table."""

    id = models.AutoField(primary_key=True)

    class Meta:
        abstract = True
        managed = False


# --- standard ---------------------------------------------------------------------------------------------------


class TableVersion(KamailioModel):
    """``version``: the schema version of each table, checked by Kamailio modules at start-up."""

    table_name = models.CharField(max_length=32, unique=True)
    table_version = models.IntegerField(default=0)

    class Meta(KamailioModel.Meta):
        db_table = "version"
        verbose_name = "table version"

    def __str__(self) -> str:
        return f"{self.table_name} v{self.table_version}"


# --- auth_db ----------------------------------------------------------------------------------------------------


class Subscriber(KamailioModel):
    """``subscriber``: one SIP account (user@domain) with its digest hashes."""

    username = models.CharField(max_length=64, default="")
    domain = models.CharField(max_length=64, default="")
    password = models.CharField(max_length=64, default="", blank=True)
    ha1 = models.CharField(max_length=128, default="")
    ha1b = models.CharField(max_length=128, default="")

    class Meta(KamailioModel.Meta):
        db_table = "subscriber"
        constraints = [models.UniqueConstraint(fields=["username", "domain"], name="subscriber_account_idx")]

    def __str__(self) -> str:
        return f"{self.username}@{self.domain}"

    @property
    def aor(self) -> str:
        return f"{self.username}@{self.domain}"

    def set_password(self, password: str) -> None:
        """Store the digest hashes for ``password`` (the clear-text column stays empty)."""
        from .hashing import ha1, ha1b

        self.password = ""
        self.ha1 = ha1(self.username, self.domain, password)
        self.ha1b = ha1b(self.username, self.domain, password)


# --- usrloc / registrar -----------------------------------------------------------------------------------------


class _ContactColumns(KamailioModel):
    """Columns shared by ``location`` and ``aliases`` (usrloc's contact record)."""

    ruid = models.CharField(max_length=64, default="", unique=True)
    username = models.CharField(max_length=64, default="")
    domain = models.CharField(max_length=64, null=True, blank=True)
    path = models.CharField(max_length=512, null=True, blank=True)
    expires = models.DateTimeField(db_default=Value("2030-05-28 21:32:15"))
    q = models.FloatField(default=1.0)
    callid = models.CharField(max_length=255, default="Default-Call-ID")
    cseq = models.IntegerField(default=1)
    last_modified = models.DateTimeField(db_default=Value("2000-01-01 00:00:01"))
    flags = models.IntegerField(default=0)
    cflags = models.IntegerField(default=0)
    user_agent = models.CharField(max_length=255, default="")
    socket = models.CharField(max_length=64, null=True, blank=True)
    methods = models.IntegerField(null=True, blank=True)
    instance = models.CharField(max_length=255, null=True, blank=True)
    reg_id = models.IntegerField(default=0)
    server_id = models.IntegerField(default=0)
    connection_id = models.IntegerField(default=0)
    keepalive = models.IntegerField(default=0)
    partition = models.IntegerField(default=0)

    class Meta(KamailioModel.Meta):
        abstract = True

    def __str__(self) -> str:
        return f"{self.username}@{self.domain} -> {self.contact}"


class Location(_ContactColumns):
    """``location``: a registered contact (usrloc, written by Kamailio on REGISTER)."""

    contact = models.CharField(max_length=512, default="")
    received = models.CharField(max_length=128, null=True, blank=True)

    class Meta(KamailioModel.Meta):
        db_table = "location"


class LocationAttr(KamailioModel):
    """``location_attrs``: extra attributes of a registration (usrloc ``xavp_contact``)."""

    ruid = models.CharField(max_length=64, default="")
    username = models.CharField(max_length=64, default="")
    domain = models.CharField(max_length=64, null=True, blank=True)
    aname = models.CharField(max_length=64, default="")
    atype = models.IntegerField(default=0)
    avalue = models.CharField(max_length=512, default="")
    last_modified = models.DateTimeField(db_default=Value("2000-01-01 00:00:01"))

    class Meta(KamailioModel.Meta):
        db_table = "location_attrs"


class Alias(_ContactColumns):
    """``aliases``: registrar's alias table (same shape as ``location``)."""

    contact = models.CharField(max_length=255, default="")
    received = models.CharField(max_length=255, null=True, blank=True)

    class Meta(KamailioModel.Meta):
        db_table = "aliases"
        verbose_name_plural = "aliases"


# --- dispatcher -------------------------------------------------------------------------------------------------


class Dispatcher(KamailioModel):
    """``dispatcher``: one destination (e.g. an Asterisk node) in a dispatcher set ``setid``."""

    setid = models.IntegerField(default=0)
    destination = models.CharField(max_length=192, default="")
    flags = models.IntegerField(default=0)
    priority = models.IntegerField(default=0)
    attrs = models.CharField(max_length=128, default="", blank=True)
    description = models.CharField(max_length=64, default="", blank=True)

    class Meta(KamailioModel.Meta):
        db_table = "dispatcher"
        verbose_name = "dispatcher destination"

    def __str__(self) -> str:
        return f"set {self.setid}: {self.destination}"


# --- dialplan ---------------------------------------------------------------------------------------------------


class DialplanRule(KamailioModel):
    """``dialplan``: one translation rule of dialplan ``dpid`` (match_op 0 = equal, 1 = regex, 2 = fnmatch)."""

    MATCH_EQUAL = 0
    MATCH_REGEX = 1
    MATCH_FNMATCH = 2

    dpid = models.IntegerField()
    pr = models.IntegerField()
    match_op = models.IntegerField()
    match_exp = models.CharField(max_length=64)
    match_len = models.IntegerField()
    subst_exp = models.CharField(max_length=64, blank=True)
    repl_exp = models.CharField(max_length=256, blank=True)
    attrs = models.CharField(max_length=64, blank=True)  # NOT NULL, no default: always supply it

    class Meta(KamailioModel.Meta):
        db_table = "dialplan"
        verbose_name = "dialplan rule"

    def __str__(self) -> str:
        return f"dp {self.dpid} pr {self.pr}: {self.match_exp}"


# --- permissions ------------------------------------------------------------------------------------------------


class Trusted(KamailioModel):
    """``trusted``: a peer trusted by source IP/protocol (permissions ``allow_trusted``)."""

    src_ip = models.CharField(max_length=50)
    proto = models.CharField(max_length=4)
    from_pattern = models.CharField(max_length=64, null=True, blank=True)
    ruri_pattern = models.CharField(max_length=64, null=True, blank=True)
    tag = models.CharField(max_length=64, null=True, blank=True)
    priority = models.IntegerField(default=0)

    class Meta(KamailioModel.Meta):
        db_table = "trusted"
        verbose_name_plural = "trusted"

    def __str__(self) -> str:
        return f"{self.src_ip}/{self.proto}"


class Address(KamailioModel):
    """``address``: an IP/subnet in address group ``grp`` (permissions ``allow_source_address``)."""

    grp = models.IntegerField(default=1)
    ip_addr = models.CharField(max_length=50)
    mask = models.IntegerField(default=32)
    port = models.SmallIntegerField(default=0)
    tag = models.CharField(max_length=64, null=True, blank=True)

    class Meta(KamailioModel.Meta):
        db_table = "address"
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return f"grp {self.grp}: {self.ip_addr}/{self.mask}"


# --- uac --------------------------------------------------------------------------------------------------------


class UacReg(KamailioModel):
    """``uacreg``: an outbound registration Kamailio keeps up (e.g. to a SIP trunk)."""

    l_uuid = models.CharField(max_length=64, default="", unique=True)
    l_username = models.CharField(max_length=64, default="")
    l_domain = models.CharField(max_length=64, default="")
    r_username = models.CharField(max_length=64, default="")
    r_domain = models.CharField(max_length=64, default="")
    realm = models.CharField(max_length=64, default="", blank=True)
    auth_username = models.CharField(max_length=64, default="")
    auth_password = models.CharField(max_length=64, default="", blank=True)
    auth_ha1 = models.CharField(max_length=128, default="", blank=True)
    auth_proxy = models.CharField(max_length=255, default="")
    expires = models.IntegerField(default=0)
    flags = models.IntegerField(default=0)
    reg_delay = models.IntegerField(default=0)
    contact_addr = models.CharField(max_length=255, default="", blank=True)
    socket = models.CharField(max_length=128, default="", blank=True)

    class Meta(KamailioModel.Meta):
        db_table = "uacreg"
        verbose_name = "UAC registration"

    def __str__(self) -> str:
        return f"{self.l_uuid}: {self.r_username}@{self.r_domain}"


# --- acc --------------------------------------------------------------------------------------------------------


class _AccColumns(KamailioModel):
    method = models.CharField(max_length=16, default="")
    from_tag = models.CharField(max_length=128, default="")
    to_tag = models.CharField(max_length=128, default="")
    callid = models.CharField(max_length=255, default="")
    sip_code = models.CharField(max_length=3, default="")
    sip_reason = models.CharField(max_length=128, default="")
    time = models.DateTimeField()

    class Meta(KamailioModel.Meta):
        abstract = True

    def __str__(self) -> str:
        return f"{self.time} {self.method} {self.sip_code} {self.callid}"


class Acc(_AccColumns):
    """``acc``: a transaction accounting record."""

    class Meta(KamailioModel.Meta):
        db_table = "acc"
        verbose_name = "accounting record"


class AccCdr(KamailioModel):
    """``acc_cdrs``: a call detail record (acc ``cdr_enable``), one per call Kamailio relays to a registered phone
    without an Asterisk (from a phone, or from a carrier by a DDI).

    ``start_time``, ``end_time`` and ``duration`` are Kamailio's columns (start = the INVITE, end = the
    BYE; a call that was not answered has end = start and duration 0). The rest are acc ``cdr_extra``
    columns added by migration ``0002_acc_cdrs_call_records`` (Kamailio's documented way to record more):
    the portal reads these rows through ``cdrs.CallRecord``, beside Asterisk's ``cdr``.
    """

    start_time = models.DateTimeField(db_default=Value("2000-01-01 00:00:00"))
    end_time = models.DateTimeField(db_default=Value("2000-01-01 00:00:00"))
    duration = models.FloatField(default=0)
    # --- cdr_extra (see deploy/kamailio/kamailio.cfg, modparam("acc", "cdr_extra", ...)) ---
    src_user = models.CharField(max_length=64, null=True, blank=True)
    site = models.CharField(max_length=64, null=True, blank=True)
    trunk = models.CharField(max_length=64, null=True, blank=True)
    dst_user = models.CharField(max_length=64, null=True, blank=True)
    callid = models.CharField(max_length=255, null=True, blank=True)
    sip_code = models.CharField(max_length=3, null=True, blank=True)
    sip_reason = models.CharField(max_length=128, null=True, blank=True)
    answer_time = models.DateTimeField(null=True, blank=True)
    # numbered from Asterisk's cdr_id_seq (cdrs/0003): one id space for the merged call records
    cdr_id = models.BigIntegerField(unique=True, editable=False, db_default=RawSQL("nextval('cdr_id_seq')", []))

    class Meta(KamailioModel.Meta):
        db_table = "acc_cdrs"
        verbose_name = "CDR"


class MissedCall(_AccColumns):
    """``missed_calls``: accounting record of a call that failed."""

    class Meta(KamailioModel.Meta):
        db_table = "missed_calls"


# --- presence ---------------------------------------------------------------------------------------------------


class Presentity(KamailioModel):
    """``presentity``: a published presence document."""

    username = models.CharField(max_length=64)
    domain = models.CharField(max_length=64)
    event = models.CharField(max_length=64)
    etag = models.CharField(max_length=128)
    expires = models.IntegerField()
    received_time = models.IntegerField()
    body = models.BinaryField()
    sender = models.CharField(max_length=255)
    priority = models.IntegerField(default=0)
    ruid = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta(KamailioModel.Meta):
        db_table = "presentity"
        verbose_name_plural = "presentities"
        constraints = [
            models.UniqueConstraint(fields=["username", "domain", "event", "etag"], name="presentity_presentity_idx")
        ]


class ActiveWatcher(KamailioModel):
    """``active_watchers``: an active presence subscription."""

    presentity_uri = models.CharField(max_length=255)
    watcher_username = models.CharField(max_length=64)
    watcher_domain = models.CharField(max_length=64)
    to_user = models.CharField(max_length=64)
    to_domain = models.CharField(max_length=64)
    event = models.CharField(max_length=64, default="presence")
    event_id = models.CharField(max_length=64, null=True, blank=True)
    to_tag = models.CharField(max_length=128)
    from_tag = models.CharField(max_length=128)
    callid = models.CharField(max_length=255)
    local_cseq = models.IntegerField()
    remote_cseq = models.IntegerField()
    contact = models.CharField(max_length=255)
    record_route = models.TextField(null=True, blank=True)
    expires = models.IntegerField()
    status = models.IntegerField(default=2)
    reason = models.CharField(max_length=64, null=True, blank=True)
    version = models.IntegerField(default=0)
    socket_info = models.CharField(max_length=64)
    local_contact = models.CharField(max_length=255)
    from_user = models.CharField(max_length=64)
    from_domain = models.CharField(max_length=64)
    updated = models.IntegerField()
    updated_winfo = models.IntegerField()
    flags = models.IntegerField(default=0)
    user_agent = models.CharField(max_length=255, null=True, blank=True, default="")

    class Meta(KamailioModel.Meta):
        db_table = "active_watchers"
        constraints = [
            models.UniqueConstraint(
                fields=["callid", "to_tag", "from_tag"], name="active_watchers_active_watchers_idx"
            )
        ]


class Watcher(KamailioModel):
    """``watchers``: a watcher's authorisation state for a presentity."""

    presentity_uri = models.CharField(max_length=255)
    watcher_username = models.CharField(max_length=64)
    watcher_domain = models.CharField(max_length=64)
    event = models.CharField(max_length=64, default="presence")
    status = models.IntegerField()
    reason = models.CharField(max_length=64, null=True, blank=True)
    inserted_time = models.IntegerField()

    class Meta(KamailioModel.Meta):
        db_table = "watchers"
        constraints = [
            models.UniqueConstraint(
                fields=["presentity_uri", "watcher_username", "watcher_domain", "event"], name="watchers_watcher_idx"
            )
        ]


class Xcap(KamailioModel):
    """``xcap``: an XCAP document (e.g. a presence rules or resource list document)."""

    username = models.CharField(max_length=64)
    domain = models.CharField(max_length=64)
    doc = models.BinaryField()
    doc_type = models.IntegerField()
    etag = models.CharField(max_length=128)
    source = models.IntegerField()
    doc_uri = models.CharField(max_length=255, unique=True)
    port = models.IntegerField()

    class Meta(KamailioModel.Meta):
        db_table = "xcap"
        verbose_name = "XCAP document"


class Pua(KamailioModel):
    """``pua``: presence user agent state (publications/subscriptions Kamailio makes itself)."""

    pres_uri = models.CharField(max_length=255)
    pres_id = models.CharField(max_length=255)
    event = models.IntegerField()
    expires = models.IntegerField()
    desired_expires = models.IntegerField()
    flag = models.IntegerField()
    etag = models.CharField(max_length=128)
    tuple_id = models.CharField(max_length=64, null=True, blank=True)
    watcher_uri = models.CharField(max_length=255)
    call_id = models.CharField(max_length=255)
    to_tag = models.CharField(max_length=128)
    from_tag = models.CharField(max_length=128)
    cseq = models.IntegerField()
    record_route = models.TextField(null=True, blank=True)
    contact = models.CharField(max_length=255)
    remote_contact = models.CharField(max_length=255)
    version = models.IntegerField()
    extra_headers = models.TextField()

    class Meta(KamailioModel.Meta):
        db_table = "pua"
        verbose_name = "PUA record"
        constraints = [
            models.UniqueConstraint(fields=["etag", "tuple_id", "call_id", "from_tag"], name="pua_pua_idx")
        ]
