"""The one write path for sites and nodes (UI, API and commands all call these)."""
from __future__ import annotations

from typing import Any, Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from voipadmin import audit, crud
from voipadmin.actors import Actor
from voipadmin.models import ChangeLogEntry

from . import guards
from .models import AsteriskNode, ExtensionRange, KamailioNode, Site


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"1000-3999, 5000"`` → ``[(1000, 3999), (5000, 5000)]`` with a clear error for bad input."""
    ranges = []
    for part in [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]:
        bits = [b.strip() for b in part.replace("–", "-").split("-")]
        if len(bits) not in (1, 2) or not all(b.isdigit() for b in bits):
            raise ValidationError(f"{part!r} is not a range like 1000-3999.")
        start, end = int(bits[0]), int(bits[-1])
        if end < start:
            raise ValidationError(f"{part!r} ends before it starts.")
        ranges.append((start, end))
    ranges.sort()
    for (a1, b1), (a2, b2) in zip(ranges, ranges[1:]):
        if a2 <= b1:
            raise ValidationError(f"{a1}-{b1} and {a2}-{b2} overlap.")
    return ranges


def format_ranges(site: Site) -> str:
    return ", ".join(f"{r.start}-{r.end}" for r in site.extension_ranges.all())


def _set_ranges(site: Site, ranges: Iterable[tuple[int, int]]) -> None:
    wanted = set(ranges)
    current = {(r.start, r.end): r for r in site.extension_ranges.all()}
    for key, rng in current.items():
        if key not in wanted:
            rng.delete()
    for start, end in sorted(wanted - set(current)):
        rng = ExtensionRange(site=site, start=start, end=end)
        rng.full_clean()
        rng.save()


def _ranges_snapshot(site: Site) -> dict[str, Any]:
    return {"extension_ranges": format_ranges(site)}


def create_site(*, actor: Actor, ranges: Iterable[tuple[int, int]] = (), **fields: Any) -> Site:
    with transaction.atomic():
        site = Site(**fields)
        site.full_clean()
        site.save()
        _set_ranges(site, ranges)
        audit.record(actor=actor, obj=site, action=ChangeLogEntry.Action.CREATE,
                     after={**audit.snapshot(site), **_ranges_snapshot(site)})
    return site


def update_site(site: Site, *, actor: Actor, ranges: Iterable[tuple[int, int]] | None = None,
                **fields: Any) -> Site:
    refusals = guards.reasons_to_refuse(site, fields, None if ranges is None else list(ranges))
    if refusals:
        raise ValidationError(refusals)
    with transaction.atomic():
        before = {**audit.snapshot(site), **_ranges_snapshot(site)}
        for name, value in fields.items():
            setattr(site, name, value)
        site.full_clean()
        site.save()
        if ranges is not None:
            _set_ranges(site, ranges)
        audit.record(actor=actor, obj=site, action=ChangeLogEntry.Action.UPDATE, before=before,
                     after={**audit.snapshot(site), **_ranges_snapshot(site)})
    return site


def delete_site(site: Site, *, actor: Actor) -> None:
    if site.asterisk_nodes.exists():
        raise ValidationError(f"Site {site} still has Asterisk nodes; move or delete them first.")
    crud.delete(site, actor=actor)


def create_asterisk_node(*, actor: Actor, **fields: Any) -> AsteriskNode:
    return crud.create(AsteriskNode, actor=actor, fields=fields)


def update_asterisk_node(node: AsteriskNode, *, actor: Actor, **fields: Any) -> AsteriskNode:
    return crud.update(node, actor=actor, fields=fields)


def delete_asterisk_node(node: AsteriskNode, *, actor: Actor) -> None:
    crud.delete(node, actor=actor)


def create_kamailio_node(*, actor: Actor, **fields: Any) -> KamailioNode:
    return crud.create(KamailioNode, actor=actor, fields=fields)


def update_kamailio_node(node: KamailioNode, *, actor: Actor, **fields: Any) -> KamailioNode:
    return crud.update(node, actor=actor, fields=fields)


def delete_kamailio_node(node: KamailioNode, *, actor: Actor) -> None:
    crud.delete(node, actor=actor)
