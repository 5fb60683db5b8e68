"""The one write path for trunks and outbound routes (UI, API, commands and the demo call these).

Every action validates, writes the domain rows, re-projects Kamailio's tables and asks for the matching
reloads, all in one transaction: a failure anywhere leaves neither the change nor the projection.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from voipadmin import audit, crud
from voipadmin.actors import Actor
from voipadmin.models import ChangeLogEntry

from . import notifier, projection
from .models import E1Trunk, ItspTrunk, OutboundRoute, RouteTrunk, Trunk


def _project(reason: str) -> list[str]:
    """Re-project every table trunks owns; reload only those that changed."""
    return notifier.changed(projection.sync_all(), reason=reason)


# --- trunks -----------------------------------------------------------------------------------------------------


def create_e1_trunk(*, actor: Actor, **fields: Any) -> E1Trunk:
    with transaction.atomic():
        trunk = crud.create(E1Trunk, actor=actor, fields=fields)
        _project(f"E1 trunk {trunk} created")  # (nothing on Asterisk reads it: see notifier)
    return trunk


def update_e1_trunk(trunk: E1Trunk, *, actor: Actor, **fields: Any) -> E1Trunk:
    with transaction.atomic():
        trunk = crud.update(trunk, actor=actor, fields=fields)
        _project(f"E1 trunk {trunk} changed")
    return trunk


def create_itsp_trunk(*, actor: Actor, **fields: Any) -> ItspTrunk:
    with transaction.atomic():
        trunk = crud.create(ItspTrunk, actor=actor, fields=fields)
        _project(f"ITSP trunk {trunk} created")
    return trunk


def update_itsp_trunk(trunk: ItspTrunk, *, actor: Actor, **fields: Any) -> ItspTrunk:
    with transaction.atomic():
        trunk = crud.update(trunk, actor=actor, fields=fields)
        _project(f"ITSP trunk {trunk} changed")
    return trunk


def delete_trunk(trunk: Trunk, *, actor: Actor) -> None:
    """Refused while a route still uses the trunk (the route would silently lose a leg)."""
    used_by = sorted(OutboundRoute.objects.filter(route_trunks__trunk_id=trunk.pk).values_list("name", flat=True))
    if used_by:
        raise ValidationError(f"Trunk {trunk} is used by route(s) {', '.join(used_by)}; remove it there first.")
    with transaction.atomic():
        crud.delete(trunk, actor=actor)
        _project(f"trunk {trunk} deleted")


# --- routes -----------------------------------------------------------------------------------------------------


def parse_trunk_names(text: str) -> list[Trunk]:
    """Trunk names, one per line (or comma separated), in the order they are tried."""
    names = [n.strip() for n in (text or "").replace(",", "\n").splitlines() if n.strip()]
    found = {t.name: t for t in Trunk.objects.filter(name__in=names)}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValidationError(f"Unknown trunk(s): {', '.join(unknown)}.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError(f"Trunk(s) listed twice: {', '.join(dupes)}.")
    return [found[n] for n in names]


def format_trunks(route: OutboundRoute) -> str:
    return "\n".join(link.trunk.name for link in route.route_trunks.all())


def _trunk_snapshot(route: OutboundRoute) -> dict[str, Any]:
    return {"trunks": ", ".join(RouteTrunk.objects.filter(route=route).order_by("position")
                                .values_list("trunk__name", flat=True))}


def _set_trunks(route: OutboundRoute, trunks: Sequence[Trunk | str]) -> None:
    if any(isinstance(t, str) for t in trunks):
        trunks = parse_trunk_names("\n".join(t if isinstance(t, str) else t.name for t in trunks))
    if not trunks:
        raise ValidationError({"trunks": "A route needs at least one trunk."})
    RouteTrunk.objects.filter(route=route).delete()
    RouteTrunk.objects.bulk_create([RouteTrunk(route=route, trunk=t, position=i) for i, t in enumerate(trunks)])


def create_route(*, actor: Actor, trunks: Iterable[Trunk | str], **fields: Any) -> OutboundRoute:
    with transaction.atomic():
        route = OutboundRoute(**fields)
        route.full_clean()
        route.save()
        _set_trunks(route, list(trunks))
        audit.record(actor=actor, obj=route, action=ChangeLogEntry.Action.CREATE,
                     after={**audit.snapshot(route), **_trunk_snapshot(route)})
        _project(f"route {route} created")
    return route


def update_route(route: OutboundRoute, *, actor: Actor, trunks: Iterable[Trunk | str] | None = None,
                 **fields: Any) -> OutboundRoute:
    with transaction.atomic():
        before = {**audit.snapshot(route), **_trunk_snapshot(route)}
        for name, value in fields.items():
            setattr(route, name, value)
        route.full_clean()
        route.save()
        if trunks is not None:
            _set_trunks(route, list(trunks))
        audit.record(actor=actor, obj=route, action=ChangeLogEntry.Action.UPDATE, before=before,
                     after={**audit.snapshot(route), **_trunk_snapshot(route)})
        _project(f"route {route} changed")
    return route


def delete_route(route: OutboundRoute, *, actor: Actor) -> None:
    with transaction.atomic():
        crud.delete(route, actor=actor)
        _project(f"route {route} deleted")
