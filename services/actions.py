"""The one write path for dispatcher sets, service codes and inbound numbers, on ``voipadmin.crud``.

Each action validates, writes, re-projects Kamailio's ``address`` (group 1), ``dispatcher`` and ``dialplan``
rows and Asterisk's ``extensions`` rows, records the change and asks for the reloads whose tables changed —
one transaction. The same projection runs when the apps below change what it is built from: sites, nodes,
ITSP trunks and users call it through the hooks ``ServicesConfig.ready`` registers (services/hooks.py).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, override

from sites.models import AsteriskNode
from voipadmin import crud, numbers
from voipadmin.actors import Actor

from . import notifier, projection
from .models import DispatcherDestination, DispatcherSet, InboundNumber, ServiceCode
from .validators import validate_code


def project(reason: str, *, extra_codes: Iterable[str] = (), peers_only: bool = False) -> list[str]:
    """Re-project everything services owns (``peers_only``: the trusted peers, address group 1, which is all
    a Kamailio node or an ITSP trunk changes here); request the reloads of what changed."""
    result = {"address": projection.sync_address()}  # (first: see sync_address)
    if not peers_only:
        result.update({"dispatcher": projection.sync_dispatcher(), "dialplan": projection.sync_dialplan(),
                       "extensions": projection.sync_extensions(extra_codes)})
    return notifier.changed(result, reason=reason)


_VERB = {"create": "created", "update": "changed", "delete": "deleted"}


def _projected(write: crud.Write) -> None:
    """The effect of every action here: re-project (the old code too, so its ``extensions`` rows go)."""
    old_code = getattr(write.old, "code", None)
    name = write.obj.code if isinstance(write.obj, ServiceCode) else write.obj
    with override(None):  # (a push job's reason is a log line: English, whoever's language made the change)
        reason = f"{write.obj._meta.verbose_name} {name} {_VERB[write.action]}"
    project(reason,
            extra_codes=[old_code] if old_code else [])


# --- dispatcher sets --------------------------------------------------------------------------------------------

DEST_KEYS = ("priority", "weight", "flags", "attrs", "max_calls")


def parse_destinations(text: str) -> list[dict[str, Any]]:
    """One destination per line: ``<node name> [priority=N] [weight=N] [flags=N] [attrs=a=b;c=d] [max_calls=N]``.

    Bare numbers after the name are read as priority, weight, flags in that order; numbers are read by
    ``voipadmin.numbers`` (ASCII digits: "priority=²" is a line error, not a 500).
    """
    result, seen = [], set()
    names = []
    for lineno, line in enumerate((text or "").splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        name, spec, positional = parts[0], {}, ["priority", "weight", "flags"]
        for part in parts[1:]:
            key, sep, value = part.partition("=")
            if not sep:
                if not positional or not numbers.is_number(part, signed=True):
                    raise ValidationError(gettext("Line %(line)s: %(part)s is not priority/weight/flags.")
                                          % {"line": lineno, "part": repr(part)})
                spec[positional.pop(0)] = int(part)
                continue
            if key not in DEST_KEYS:
                raise ValidationError(gettext("Line %(line)s: unknown setting %(key)s (use %(keys)s).")
                                      % {"line": lineno, "key": repr(key), "keys": ", ".join(DEST_KEYS)})
            if key == "attrs":
                spec[key] = value
            else:
                try:
                    spec[key] = numbers.parse_int(value, what=key, signed=True)
                except ValidationError as exc:
                    raise ValidationError(gettext("Line %(line)s: %(problem)s")
                                          % {"line": lineno, "problem": " ".join(exc.messages)}) from None
        if name in seen:
            raise ValidationError(gettext("Line %(line)s: node %(node)s is listed twice.")
                                  % {"line": lineno, "node": name})
        seen.add(name)
        names.append(name)
        result.append({"node": name, "max_calls": None, **spec})  # a line without max_calls: no limit
    nodes = {n.name: n for n in AsteriskNode.objects.filter(name__in=names)}
    unknown = [n for n in names if n not in nodes]
    if unknown:
        raise ValidationError(gettext("Unknown Asterisk node(s): %(nodes)s.") % {"nodes": ", ".join(unknown)})
    for spec in result:
        spec["node"] = nodes[spec["node"]]
    return result


def format_destinations(dset: DispatcherSet) -> str:
    lines = []
    for d in dset.destinations.all():
        line = f"{d.node.name} priority={d.priority} weight={d.weight} flags={d.flags}"
        line += f" max_calls={d.max_calls}" if d.max_calls is not None else ""
        lines.append(line + (f" attrs={d.attrs}" if d.attrs else ""))
    return "\n".join(lines)


def _destinations_snapshot(dset: DispatcherSet) -> dict[str, Any]:
    rows = DispatcherDestination.objects.filter(dispatcher_set=dset).select_related("node").order_by("node__name")
    return {"destinations": "; ".join(f"{d.node.name} p={d.priority} w={d.weight} f={d.flags}"
                                      + (f" max={d.max_calls}" if d.max_calls is not None else "")
                                      + (f" {d.attrs}" if d.attrs else "") for d in rows)}


def _set_destinations(dset: DispatcherSet, destinations: list[dict[str, Any]]) -> None:
    """Upsert by node (ids stay stable), drop nodes no longer listed."""
    current = {d.node_id: d for d in DispatcherDestination.objects.filter(dispatcher_set=dset)}
    wanted = set()
    for spec in destinations:
        node = spec["node"]
        wanted.add(node.pk)
        dest = current.get(node.pk) or DispatcherDestination(dispatcher_set=dset, node=node)
        dest.dispatcher_set = dset  # its algorithm as just saved (DispatcherDestination.clean judges by it)
        for key in DEST_KEYS:
            if key in spec:
                setattr(dest, key, spec[key])
        try:
            dest.full_clean(exclude=["dispatcher_set"])
        except ValidationError as exc:
            raise ValidationError({"destinations": [f"{node.name}: {m}" for m in exc.messages]}) from None
        dest.save()
    DispatcherDestination.objects.filter(dispatcher_set=dset).exclude(node_id__in=wanted).delete()


def create_dispatcher_set(*, actor: Actor, destinations: list[dict[str, Any]] | None = None,
                          **fields: Any) -> DispatcherSet:
    destinations = destinations or []
    return crud.create(DispatcherSet, actor=actor, fields=fields,
                       related=lambda dset: _set_destinations(dset, destinations),
                       snapshot=_destinations_snapshot, effects=[_projected])


def update_dispatcher_set(dset: DispatcherSet, *, actor: Actor, destinations: list[dict[str, Any]] | None = None,
                          **fields: Any) -> DispatcherSet:
    return crud.update(dset, actor=actor, fields=fields,
                       related=None if destinations is None else (lambda d: _set_destinations(d, destinations)),
                       snapshot=_destinations_snapshot, effects=[_projected])


def add_destination(dset: DispatcherSet, *, actor: Actor, node: AsteriskNode, **settings: Any) -> DispatcherSet:
    """Add (or re-tune) one node of a set, keeping the others as they are."""
    current = [{"node": d.node, **{k: getattr(d, k) for k in DEST_KEYS}}
               for d in dset.destinations.select_related("node") if d.node_id != node.pk]
    return update_dispatcher_set(dset, actor=actor, destinations=[*current, {"node": node, **settings}])


def remove_destination(dset: DispatcherSet, *, actor: Actor, node: AsteriskNode) -> DispatcherSet:
    current = [{"node": d.node, **{k: getattr(d, k) for k in DEST_KEYS}}
               for d in dset.destinations.select_related("node") if d.node_id != node.pk]
    return update_dispatcher_set(dset, actor=actor, destinations=current)


def _no_codes_use(dset: DispatcherSet) -> None:
    codes = list(dset.service_codes.values_list("code", flat=True))
    if codes:
        raise ValidationError(gettext("Service code(s) %(codes)s still use %(set)s; point them elsewhere first.")
                              % {"codes": ", ".join(codes), "set": dset}, code="protected")


def delete_dispatcher_set(dset: DispatcherSet, *, actor: Actor) -> None:
    crud.delete(dset, actor=actor, checks=[_no_codes_use], snapshot=_destinations_snapshot, effects=[_projected])


# --- service codes ----------------------------------------------------------------------------------------------


#: vetoes of apps above (media: a code that reaches a room, menu or AGI application keeps its kind and is not
#: deleted from under it); each is called with the code as it would be saved / the code about to go
code_update_checks = crud.Hook("services.code_update_checks")
code_delete_checks = crud.Hook("services.code_delete_checks")


def _code_is_free(code: ServiceCode) -> None:
    """No clash with another code, a user's extension or a site's range (services.validators)."""
    validate_code(code.code, exclude_pk=code.pk)


def create_service_code(*, actor: Actor, **fields: Any) -> ServiceCode:
    # (in prepare, before full_clean: its generic "already exists" would hide which object holds the code)
    return crud.create(ServiceCode, actor=actor, fields=fields, prepare=lambda write: _code_is_free(write.obj),
                       effects=[_projected])


def update_service_code(service_code: ServiceCode, *, actor: Actor, **fields: Any) -> ServiceCode:
    def prepare(write: crud.Write) -> None:
        if write.obj.code != write.old.code:
            _code_is_free(write.obj)

    return crud.update(service_code, actor=actor, fields=fields, prepare=prepare, checks=[code_update_checks.check],
                       effects=[_projected])


def _no_ddis_ring(service_code: ServiceCode) -> None:
    ddis = list(service_code.inbound_numbers.values_list("number", flat=True))
    if ddis:
        raise ValidationError(gettext("Inbound number(s) %(numbers)s still ring %(code)s; change them first.")
                              % {"numbers": ", ".join(ddis), "code": service_code.code})


def delete_service_code(service_code: ServiceCode, *, actor: Actor) -> None:
    crud.delete(service_code, actor=actor, checks=[_no_ddis_ring, code_delete_checks.check], effects=[_projected])


# --- inbound numbers --------------------------------------------------------------------------------------------


def _normalise_number(fields: dict[str, Any]) -> None:
    if isinstance(fields.get("number"), str):
        fields["number"] = re.sub(r"[\s().-]", "", fields["number"])


def create_inbound_number(*, actor: Actor, **fields: Any) -> InboundNumber:
    _normalise_number(fields)
    return crud.create(InboundNumber, actor=actor, fields=fields, effects=[_projected])


def update_inbound_number(ddi: InboundNumber, *, actor: Actor, **fields: Any) -> InboundNumber:
    _normalise_number(fields)
    return crud.update(ddi, actor=actor, fields=fields, effects=[_projected])


def delete_inbound_number(ddi: InboundNumber, *, actor: Actor) -> None:
    crud.delete(ddi, actor=actor, effects=[_projected])
