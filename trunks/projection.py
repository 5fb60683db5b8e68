"""Trunks and routes projected into Kamailio's own tables (rows Kamailio loads on a reload).

Each ``sync_*`` rebuilds the rows this app owns from the domain models, changing only what differs,
and returns True when something changed (so the notifier asks for a reload only then). Actions call
them inside their transaction, so the projection commits (or rolls back) with the change itself.

What trunks owns in Kamailio's tables:

================  =====================================================================================
``address``       rows with ``grp >= 2``: ITSPs authenticated by IP (group 1 = the estate's own peers)
``uacreg``        every row: ITSPs authenticated by registration (``l_uuid`` = trunk name)
``dispatcher``    sets ``ROUTE_SETID_BASE + route id`` (1000+): a route's trunks, first trunk highest priority;
                  attrs ``trunk=<name>`` + ``;e1group=N`` (E1) or ``;cid=restricted|trunk_number;cidnum=..`` (ITSP)
``dialplan``      ``dpid 2``: outbound routes (number pattern → rewrite, ``attrs`` ``route=<id>;setid=<set>``)
================  =====================================================================================

``uacreg.auth_password`` holds the ITSP password **in clear**: Kamailio's uac module reads it from
there to answer the ITSP's digest challenge (``auth_ha1`` would need the ITSP's realm hashing, which
providers do not promise). The portal keeps the password encrypted in ``ItspTrunk.auth_password`` and
never renders it; the clear copy is Kamailio's contract, protected by the database's access rules.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from django.db import connection, models

from voipadmin.fields import is_undecryptable
from voipadmin.kamailio.models import Address, DialplanRule, Dispatcher, UacReg

from .choices import CallerIdPresentation, ItspAuth, TrunkKind
from .models import ROUTE_SETID_BASE, ItspTrunk, OutboundRoute, RouteTrunk

#: dialplan ids used by the estate (see also services.projection)
DPID_PSTN = 2
ROUTE_SETID_MAX = 9999
#: ds_select_dst algorithm for routes: 8 = first destination by priority, then the next on failure
ROUTE_ALGORITHM = 8


#: the advisory lock that serialises projections (an arbitrary constant of this app)
LOCK_NAMESPACE = 0x766F6970  # "voip"
LOCK_KEY = 1


def lock() -> None:
    """Serialise every projection into Kamailio's and Asterisk's tables across concurrent transactions (held
    until commit/rollback).

    Two actions re-projecting at once would otherwise each miss the other's uncommitted rows and could both
    insert the same row. It is ONE lock for all tables, not one per table: an ITSP trunk re-projects address,
    uacreg, dispatcher and dialplan, then services' trusted peers, while a dispatcher set re-projects peers,
    dispatcher and dialplan — per-table locks taken in those two orders deadlocked under concurrent API
    writes (tests/production/test_workers.py). Taken before the desired rows are computed, so the second
    transaction reads the first one's committed domain rows (READ COMMITTED, fresh per statement). A
    projection takes milliseconds; holding it to commit costs nothing an operator would see.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, LOCK_KEY])


def sync_rows(model: type[models.Model], scope: models.QuerySet, desired: Iterable[dict[str, Any]]) -> bool:
    """Make the rows of ``scope`` equal ``desired`` (compared on every column but ``id``)."""
    desired = list(desired)
    fields = sorted({k for row in desired for k in row} or
                    [f.attname for f in model._meta.concrete_fields if f.attname != "id"])
    want = Counter(tuple(row.get(f) for f in fields) for row in desired)
    have: dict[tuple, list[int]] = {}
    for row in scope.values("id", *fields):
        have.setdefault(tuple(row[f] for f in fields), []).append(row["id"])
    stale: list[int] = []
    for key, ids in have.items():
        keep = want.get(key, 0)
        stale.extend(ids[keep:])
    missing = []
    for key, count in want.items():
        missing.extend([key] * max(0, count - len(have.get(key, []))))
    if stale:
        scope.model.objects.filter(pk__in=stale).delete()
    if missing:
        model.objects.bulk_create([model(**dict(zip(fields, key))) for key in missing])
    return bool(stale or missing)


# --- desired rows -----------------------------------------------------------------------------------------------


def address_rows() -> list[dict[str, Any]]:
    rows = []
    for trunk in ItspTrunk.objects.filter(enabled=True, auth_mode=ItspAuth.IP).order_by("name"):
        for ip, mask in trunk.ip_networks:
            rows.append({"grp": trunk.address_group, "ip_addr": ip, "mask": mask, "port": 0, "tag": trunk.name})
    return rows


def uacreg_rows() -> list[dict[str, Any]]:
    rows = []
    for trunk in ItspTrunk.objects.filter(enabled=True, auth_mode=ItspAuth.REGISTRATION).order_by("name"):
        proxy = trunk.proxy or trunk.dispatcher_uri
        rows.append({
            "l_uuid": trunk.name, "l_username": trunk.username, "l_domain": trunk.host,
            "r_username": trunk.username, "r_domain": trunk.host, "realm": trunk.realm,
            "auth_username": trunk.auth_username or trunk.username, "auth_password": _clear_password(trunk),
            "auth_ha1": "", "auth_proxy": proxy, "expires": trunk.expires, "flags": 0, "reg_delay": 0,
            "contact_addr": "", "socket": "",
        })
    return rows


def _clear_password(trunk: ItspTrunk) -> str:
    """The password Kamailio registers with. One the portal's keys cannot decrypt (they changed) stays what
    Kamailio has now: the trunk keeps registering until someone re-enters it on the trunk's page."""
    if not is_undecryptable(trunk.auth_password):
        return trunk.auth_password
    return UacReg.objects.filter(l_uuid=trunk.name).values_list("auth_password", flat=True).first() or ""


def route_dispatcher_rows() -> list[dict[str, Any]]:
    """One set per route; Kamailio tries the highest ``priority`` first, so position 0 gets the highest."""
    rows = []
    links = (RouteTrunk.objects.filter(route__enabled=True, trunk__enabled=True)
             .select_related("route", "trunk", "trunk__e1trunk__asterisk_node", "trunk__itsptrunk")
             .order_by("route_id", "position"))
    per_route: dict[int, list[RouteTrunk]] = {}
    for link in links:
        per_route.setdefault(link.route_id, []).append(link)
    for route_id, route_links in per_route.items():
        count = len(route_links)
        for index, link in enumerate(route_links):
            trunk = link.trunk
            attrs = f"trunk={trunk.name}"
            if trunk.kind == TrunkKind.E1:
                attrs += f";e1group={trunk.e1trunk.group}"
            else:
                attrs += _caller_id_attrs(trunk.itsptrunk)
            # an E1 line on a drained node takes no new calls: disabled (4, services.projection.DS_DISABLED_DST),
            # the route's next trunk takes them
            drained = trunk.kind == TrunkKind.E1 and trunk.e1trunk.asterisk_node.draining
            rows.append({"setid": link.route.setid, "destination": trunk.dispatcher_uri, "flags": 4 if drained else 0,
                         "priority": (count - index) * 10, "attrs": attrs[:128],
                         "description": f"{link.route.name[:40]}/{trunk.name}"[:64]})
    return rows


def _caller_id_attrs(trunk: ItspTrunk) -> str:
    """How kamailio.cfg (branch_route) presents the caller on this trunk: ``cid=restricted`` adds
    ``Privacy: id``; ``cid=trunk_number;cidnum=+34...`` asserts the trunk's main number."""
    if trunk.caller_id_presentation == CallerIdPresentation.RESTRICTED:
        return ";cid=restricted"
    if trunk.caller_id_presentation == CallerIdPresentation.TRUNK_NUMBER:
        return f";cid=trunk_number;cidnum={trunk.caller_id_number}"
    return ""


def route_dialplan_rows() -> list[dict[str, Any]]:
    rows = []
    for route in OutboundRoute.objects.filter(enabled=True).order_by("priority", "name"):
        rows.append({
            "dpid": DPID_PSTN, "pr": route.priority, "match_op": DialplanRule.MATCH_REGEX,
            "match_exp": route.pattern, "match_len": 0,
            # strip N leading characters, then prepend: "^.{2}(.*)$" -> "+34\1"
            "subst_exp": f"^.{{{route.strip}}}(.*)$" if route.strip else "^(.*)$",
            "repl_exp": f"{route.prepend}\\1",
            "attrs": f"route={route.pk};setid={route.setid};alg={ROUTE_ALGORITHM}",
        })
    return rows


# --- scopes and sync --------------------------------------------------------------------------------------------


def address_scope():
    return Address.objects.filter(grp__gte=2)


def uacreg_scope():
    return UacReg.objects.all()


def dispatcher_scope():
    return Dispatcher.objects.filter(setid__gte=ROUTE_SETID_BASE, setid__lte=ROUTE_SETID_MAX)


def dialplan_scope():
    return DialplanRule.objects.filter(dpid=DPID_PSTN)


def sync_address() -> bool:
    lock()
    return sync_rows(Address, address_scope(), address_rows())


def sync_uacreg() -> bool:
    lock()
    return sync_rows(UacReg, uacreg_scope(), uacreg_rows())


def sync_route_dispatcher() -> bool:
    lock()
    return sync_rows(Dispatcher, dispatcher_scope(), route_dispatcher_rows())


def sync_route_dialplan() -> bool:
    lock()
    return sync_rows(DialplanRule, dialplan_scope(), route_dialplan_rows())


#: (Kamailio table, desired rows, rows in the table, sync) — what check_estate compares and repairs
PROJECTIONS = {
    "address": (address_rows, address_scope, sync_address),
    "uacreg": (uacreg_rows, uacreg_scope, sync_uacreg),
    "dispatcher": (route_dispatcher_rows, dispatcher_scope, sync_route_dispatcher),
    "dialplan": (route_dialplan_rows, dialplan_scope, sync_route_dialplan),
}


def sync_all() -> dict[str, bool]:
    return {table: sync() for table, (_rows, _scope, sync) in PROJECTIONS.items()}
