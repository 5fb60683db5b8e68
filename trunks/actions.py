"""The one write path for trunks and outbound routes (UI, API, commands and the demo call these).

Every action goes through ``voipadmin.crud`` (row lock, validation, audit) and, in the same transaction,
re-projects Kamailio's tables and asks for the matching reloads: a failure anywhere leaves neither the change
nor the projection. Services trusts the estate's own nodes unless an ITSP claims their address, so it
registers on ``itsp_changed`` (trunks cannot import services).
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext, override

from voipadmin import audit, crud
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
    with override(None):  # (a push job's reason is a log line: English, whoever's language made the change)
        reason = f"{write.obj._meta.verbose_name} {write.obj} {verb}"
    _project(reason)


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
        raise ValidationError(gettext("Trunk %(trunk)s is used by route(s) %(routes)s; remove it there first.")
                              % {"trunk": trunk, "routes": ", ".join(used_by)})


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
        raise ValidationError(gettext("Unknown trunk(s): %(trunks)s.") % {"trunks": ", ".join(unknown)})
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError(gettext("Trunk(s) listed twice: %(trunks)s.") % {"trunks": ", ".join(dupes)})
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
        raise ValidationError({"trunks": gettext("A route needs at least one trunk.")})
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


# --- many trunks from a list page (enable, disable, delete) -----------------------------------------------------


def _locked_trunks(trunks: Iterable[Trunk]) -> list[E1Trunk | ItspTrunk]:
    """The E1/ITSP rows of these trunks, locked in pk order (audited as the single-object pages audit them)."""
    pks = [t.pk for t in trunks]
    found: list[E1Trunk | ItspTrunk] = []
    for model in (E1Trunk, ItspTrunk):
        found += crud.lock_many(model.objects.all(), pks)
    return sorted(found, key=lambda t: t.pk)


def plan_bulk_update(trunks: Iterable[Trunk], *, enabled: bool) -> list[crud.Planned]:
    """Each trunk and whether it changes (a disabled trunk is left out of every route, which stays)."""
    label = str(Trunk._meta.get_field("enabled").verbose_name)
    yes_no = {True: gettext("yes"), False: gettext("no")}
    return [crud.Planned(obj=t, changes={label: (yes_no[t.enabled], yes_no[enabled])} if t.enabled != enabled else {})
            for t in trunks]


def bulk_update_trunks(trunks: Iterable[Trunk], *, actor: Actor, enabled: bool,
                       message: str = "Bulk change") -> int:
    """Enable or disable many trunks in ONE transaction: one audit entry per changed trunk, then one
    re-projection of Kamailio's tables (one set of reloads, not one per trunk)."""
    with transaction.atomic():
        changed = [t for t in _locked_trunks(trunks) if t.enabled != enabled]
        for model in (E1Trunk, ItspTrunk):
            objs = [t for t in changed if isinstance(t, model)]
            befores = [audit.snapshot(t) for t in objs]
            for t in objs:
                t.enabled = enabled
            crud.bulk_update(objs, actor=actor, befores=befores, fields={"enabled"}, message=message)
        if changed:
            _project(f"{message}: {len(changed)} trunk(s)")
            itsps = [t for t in changed if isinstance(t, ItspTrunk)]
            if itsps:
                itsp_changed(crud.Write(obj=itsps[0], actor=actor, action="update", message=message))
    return len(changed)


def plan_bulk_delete(trunks: Iterable[Trunk]) -> list[crud.Planned]:
    """Each trunk deleted, or refused while a route uses it or a DDI arrives on it (two queries in all)."""
    trunks = list(trunks)
    pks = [t.pk for t in trunks]
    routes: dict[int, set[str]] = {}
    for trunk_id, name in RouteTrunk.objects.filter(trunk_id__in=pks).values_list("trunk_id", "route__name"):
        routes.setdefault(trunk_id, set()).add(name)
    others = crud.protected_by(Trunk, pks, skip=[RouteTrunk])
    plan = []
    for t in trunks:
        reasons = ([gettext("used by route(s) %(routes)s") % {"routes": ", ".join(sorted(routes[t.pk]))}]
                   if t.pk in routes else []) + \
            ([gettext("still used by %(objects)s") % {"objects": ", ".join(others[t.pk])}] if t.pk in others else [])
        plan.append(crud.Planned(obj=t, deleted=True, refused="; ".join(reasons) + (gettext("; change that first.")
                                                                                     if reasons else "")))
    return plan


def bulk_delete_trunks(trunks: Iterable[Trunk], *, actor: Actor) -> int:
    """Delete many trunks in ONE transaction, each through ``delete_trunk``; one refusal refuses them all."""
    with transaction.atomic():
        locked = _locked_trunks(trunks)
        refused = [f"{p.obj}: {p.refused}" for p in plan_bulk_delete(locked) if p.refused]
        if refused:
            raise ValidationError(refused)
        for trunk in locked:
            delete_trunk(trunk, actor=actor)
    return len(locked)
