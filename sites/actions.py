"""The one write path for sites and nodes (UI, API and commands all call these), on ``voipadmin.crud``.

Apps above sites keep tables built from sites, ranges and nodes (services: Kamailio's dispatcher, dialplan
and trusted peers and Asterisk's ``extensions``; trunks: the E1 lines' dispatcher destinations). Sites cannot
import them, so they register here at start-up and every action below calls them inside its transaction:

* ``asterisk_node_checks`` — vetoes on a node about to be saved (its URI must fit the rows it is copied into);
* ``site_changed`` / ``node_changed`` — the projections, run after the write with the ``crud.Write``.
"""
from __future__ import annotations

from typing import Any, Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from voipadmin import crud, numbers
from voipadmin.actors import Actor

from . import guards
from .models import AsteriskNode, ExtensionRange, KamailioNode, Site
from .ranges import prefix_of


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"1000-3999, 5000"`` → ``[(1000, 3999), (5000, 5000)]`` with a clear error for bad input."""
    ranges = []
    for part in [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]:
        bits = [b.strip() for b in part.replace("–", "-").split("-")]
        if len(bits) not in (1, 2) or not all(numbers.is_number(b) for b in bits):  # ("²": an error, not a 500)
            raise ValidationError(gettext("%(part)s is not a range like 1000-3999 (digits 0-9).")
                                  % {"part": repr(part)})
        start, end = int(bits[0]), int(bits[-1])
        if end < start:
            raise ValidationError(gettext("%(part)s ends before it starts.") % {"part": repr(part)})
        ranges.append((start, end))
    ranges.sort()
    for (a1, b1), (a2, b2) in zip(ranges, ranges[1:]):
        if a2 <= b1:
            raise ValidationError(gettext("%(first)s and %(second)s overlap.") % {"first": f"{a1}-{b1}",
                                                                                  "second": f"{a2}-{b2}"})
    return ranges


def format_ranges(site: Site) -> str:
    return ", ".join(f"{r.start}-{r.end}" for r in site.extension_ranges.all())


#: fn(node) raising ValidationError: may this Asterisk node be saved as it is?
asterisk_node_checks = crud.Hook("sites.asterisk_node_checks")
#: fn(write): a site (or its extension ranges) was created, changed or deleted
site_changed = crud.Hook("sites.site_changed")
#: fn(write): an Asterisk or Kamailio node was created, changed or deleted
node_changed = crud.Hook("sites.node_changed")


def _refuse_prefix_shadowing(site: Site, start: int, end: int) -> None:
    """Refuse a range whose numbers begin another site's numbers, or begin with them (2000 and 20000-20999).

    Overlap is refused by ``ExtensionRange.clean``; numbers of different lengths clash too when one begins
    the other: a phone sends what was dialled digit by digit, and Kamailio's dialplan and Asterisk's
    pattern matching then cannot tell 2000 from the start of 20000 — the call goes to whichever matched
    first, on the wrong site. Within one site its own Asterisk sorts it out, so only other sites count.
    """
    for other in ExtensionRange.objects.exclude(site=site).select_related("site").order_by("start"):
        for short, long, short_site, long_site in (((start, end), (other.start, other.end), site, other.site),
                                                   ((other.start, other.end), (start, end), other.site, site)):
            clash = prefix_of(short, long)
            if clash:
                raise ValidationError(gettext(
                    "%(range)s would make routing ambiguous with %(other)s of site %(site)s: %(short)s "
                    "(%(short_site)s) is the beginning of %(long)s (%(long_site)s), and numbers are matched digit "
                    "by digit. Choose numbers that neither begin another site's numbers nor begin with them.") % {
                    "range": f"{start}–{end}", "other": f"{other.start}–{other.end}", "site": other.site,
                    "short": clash[0], "short_site": short_site, "long": clash[1], "long_site": long_site})


def _set_ranges(site: Site, ranges: Iterable[tuple[int, int]]) -> None:
    wanted = set(ranges)
    current = {(r.start, r.end): r for r in site.extension_ranges.all()}
    for key, rng in current.items():
        if key not in wanted:
            rng.delete()
    for start, end in sorted(wanted - set(current)):
        rng = ExtensionRange(site=site, start=start, end=end)
        rng.full_clean()
        _refuse_prefix_shadowing(site, start, end)
        rng.save()


def _ranges_snapshot(site: Site) -> dict[str, Any]:
    return {"extension_ranges": format_ranges(site)} if site.pk else {}


def _guard(fields: dict[str, Any], ranges: list[tuple[int, int]] | None):
    """What apps built on sites say about the change (users: domains and stranded extensions; services: codes)."""
    def prepare(write: crud.Write) -> None:
        refusals = guards.reasons_to_refuse(write.old, fields, ranges)
        if refusals:
            raise ValidationError(refusals)
    return prepare


def create_site(*, actor: Actor, ranges: Iterable[tuple[int, int]] = (), **fields: Any) -> Site:
    ranges = list(ranges)
    return crud.create(Site, actor=actor, fields=fields,
                       related=lambda site: _set_ranges(site, ranges), snapshot=_ranges_snapshot,
                       effects=[site_changed])


def update_site(site: Site, *, actor: Actor, ranges: Iterable[tuple[int, int]] | None = None,
                **fields: Any) -> Site:
    ranges = None if ranges is None else list(ranges)
    return crud.update(site, actor=actor, fields=fields, prepare=_guard(fields, ranges),
                       related=None if ranges is None else (lambda s: _set_ranges(s, ranges)),
                       snapshot=_ranges_snapshot, effects=[site_changed])


def _no_nodes_left(site: Site) -> None:
    if site.asterisk_nodes.exists():
        raise ValidationError(gettext("Site %(site)s still has Asterisk nodes; move or delete them first.")
                              % {"site": site})


def delete_site(site: Site, *, actor: Actor) -> None:
    crud.delete(site, actor=actor, checks=[_no_nodes_left], snapshot=_ranges_snapshot, effects=[site_changed])


def create_asterisk_node(*, actor: Actor, **fields: Any) -> AsteriskNode:
    return crud.create(AsteriskNode, actor=actor, fields=fields, checks=[asterisk_node_checks.check],
                       effects=[node_changed])


def update_asterisk_node(node: AsteriskNode, *, actor: Actor, **fields: Any) -> AsteriskNode:
    return crud.update(node, actor=actor, fields=fields, checks=[asterisk_node_checks.check],
                       effects=[node_changed])


def delete_asterisk_node(node: AsteriskNode, *, actor: Actor) -> None:
    crud.delete(node, actor=actor, effects=[node_changed])


def drain_node(node: AsteriskNode, *, actor: Actor) -> AsteriskNode:
    """Take no new calls on this node; the calls it carries finish. The projection writes its dispatcher rows
    with Kamailio's disabled flag and moves the codes it serves alone (and its site's home rules) to other
    nodes; the usual push reloads them. Idempotent: draining a draining node writes nothing."""
    return crud.update(node, actor=actor, fields={"draining": True}, message="drained",
                       effects=[node_changed])


def return_node_to_service(node: AsteriskNode, *, actor: Actor) -> AsteriskNode:
    """Undo :func:`drain_node`: the node takes new calls again (once Kamailio has reloaded its rows)."""
    return crud.update(node, actor=actor, fields={"draining": False}, message="returned to service",
                       effects=[node_changed])


def create_kamailio_node(*, actor: Actor, **fields: Any) -> KamailioNode:
    return crud.create(KamailioNode, actor=actor, fields=fields, effects=[node_changed])


def update_kamailio_node(node: KamailioNode, *, actor: Actor, **fields: Any) -> KamailioNode:
    return crud.update(node, actor=actor, fields=fields, effects=[node_changed])


def delete_kamailio_node(node: KamailioNode, *, actor: Actor) -> None:
    crud.delete(node, actor=actor, effects=[node_changed])
