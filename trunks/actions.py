"""The one write path for trunks and outbound routes (UI, API, commands and the demo call these).

Every action goes through ``voipadmin.crud`` (row lock, validation, audit) and, in the same transaction,
re-projects Kamailio's tables and asks for the matching reloads: a failure anywhere leaves neither the change
nor the projection. Services trusts the estate's own nodes unless an ITSP claims their address, so it
registers on ``itsp_changed`` (trunks cannot import services).
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from django.core.exceptions import ValidationError

from voipadmin import crud
from voipadmin.actors import Actor

from . import notifier, projection
from .models import E1Trunk, ItspTrunk, OutboundRoute, RouteTrunk, Trunk

#: fn(write): an ITSP trunk was created, changed or deleted (its address may be a node's)
itsp_changed = crud.Hook("trunks.itsp_changed")


def _project(reason: str) -> list[str]:
    """Re-project every table trunks owns; reload only those that changed."""
    return notifier.changed(projection.sync_all(), reason=reason)


def _projected(write: crud.Write) -> None:
    verb = {"create": "created", "update": "changed", "delete": "deleted"}[write.action]
    _project(f"{write.obj._meta.verbose_name} {write.obj} {verb}")


# --- trunks -----------------------------------------------------------------------------------------------------


def create_e1_trunk(*, actor: Actor, **fields: Any) -> E1Trunk:
    return crud.create(E1Trunk, actor=actor, fields=fields, effects=[_projected])  # (no Asterisk reload: notifier)


def update_e1_trunk(trunk: E1Trunk, *, actor: Actor, **fields: Any) -> E1Trunk:
    return crud.update(trunk, actor=actor, fields=fields, effects=[_projected])


def create_itsp_trunk(*, actor: Actor, **fields: Any) -> ItspTrunk:
    return crud.create(ItspTrunk, actor=actor, fields=fields, effects=[_projected, itsp_changed])


def update_itsp_trunk(trunk: ItspTrunk, *, actor: Actor, **fields: Any) -> ItspTrunk:
    return crud.update(trunk, actor=actor, fields=fields, effects=[_projected, itsp_changed])


def _not_routed(trunk: Trunk) -> None:
    """A trunk a route still uses is refused (the route would silently lose a leg)."""
    used_by = sorted(OutboundRoute.objects.filter(route_trunks__trunk_id=trunk.pk).values_list("name", flat=True))
    if used_by:
        raise ValidationError(f"Trunk {trunk} is used by route(s) {', '.join(used_by)}; remove it there first.")


def delete_trunk(trunk: Trunk, *, actor: Actor) -> None:
    effects = [_projected]
    if isinstance(trunk, ItspTrunk) or ItspTrunk.objects.filter(pk=trunk.pk).exists():
        effects.append(itsp_changed)
    crud.delete(trunk, actor=actor, checks=[_not_routed], effects=effects)


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
    trunks = list(trunks)
    return crud.create(OutboundRoute, actor=actor, fields=fields, related=lambda r: _set_trunks(r, trunks),
                       snapshot=_trunk_snapshot, effects=[_projected])


def update_route(route: OutboundRoute, *, actor: Actor, trunks: Iterable[Trunk | str] | None = None,
                 **fields: Any) -> OutboundRoute:
    trunks = None if trunks is None else list(trunks)
    return crud.update(route, actor=actor, fields=fields,
                       related=None if trunks is None else (lambda r: _set_trunks(r, trunks)),
                       snapshot=_trunk_snapshot, effects=[_projected])


def delete_route(route: OutboundRoute, *, actor: Actor) -> None:
    crud.delete(route, actor=actor, snapshot=_trunk_snapshot, effects=[_projected])
