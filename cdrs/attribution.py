"""Which site and which trunk a CDR belongs to, decided when it is queried.

Asterisk writes CDRs, Kamailio the records of calls it rings on a phone by itself; voipadmin never rewrites
them. Both are read through the view ``call_record`` in Asterisk's columns (a Kamailio record: no context,
``accountcode`` = the call's site, ``peeraccount`` = a carrier's trunk), so one rule serves both. A CDR
belongs to

* the site whose context it ran in (``dcontext = "site-<slug>"``), or, when the context is not
  a site context (calls arriving from a trunk), to the site whose slug is its ``accountcode``;
* the trunk whose channel it used: ``PJSIP/<trunk>-…`` on either leg (SIP trunks), an E1
  span ``DAHDI/i<span>/…`` on a node of the CDR's site, or ``peeraccount = <trunk>`` (the
  dialplan sets it when the call leaves through Kamailio's dispatcher).

Both are expressed as SQL (``Q`` objects and ``Case`` annotations built from the current sites
and trunks), so filters and totals use the indexes and a renamed site or trunk is attributed
correctly at once, without a periodic re-labelling job rewriting Asterisk's rows.
"""
from __future__ import annotations

from typing import Any

from django.db.models import Case, CharField, IntegerField, Q, Value, When

SITE_CONTEXT_PREFIX = "site-"


def site_q(site: Any) -> Q:
    return Q(dcontext=f"{SITE_CONTEXT_PREFIX}{site.slug}") | (
        Q(accountcode=site.slug) & ~Q(dcontext__startswith=SITE_CONTEXT_PREFIX))


def _trunk_models():
    try:
        from trunks.models import Trunk
    except ImportError:  # the trunks app is optional for the CDR views
        return None
    return Trunk


def trunk_q(trunk: Any) -> Q:
    name = trunk.name
    q = Q(peeraccount=name) | Q(dstchannel__startswith=f"PJSIP/{name}-") | Q(channel__startswith=f"PJSIP/{name}-")
    e1 = getattr(trunk, "e1trunk", None) if getattr(trunk, "kind", "") == "e1" else None
    if e1 is not None:
        prefix = f"DAHDI/i{e1.span}/"
        q |= (Q(dstchannel__startswith=prefix) | Q(channel__startswith=prefix)) & site_q(e1.asterisk_node.site)
    return q


def trunks() -> list:
    Trunk = _trunk_models()
    if Trunk is None:
        return []
    return list(Trunk.objects.select_related("e1trunk__asterisk_node__site").order_by("pk")
                .only("id", "name", "kind", "e1trunk__span", "e1trunk__asterisk_node__site__slug"))


def sites() -> list:
    from sites.models import Site

    return list(Site.objects.order_by("pk"))


def site_case(site_list: list | None = None) -> Case | Value:
    site_list = sites() if site_list is None else site_list
    if not site_list:
        return Value(None, output_field=IntegerField())
    return Case(*[When(site_q(s), then=Value(s.pk)) for s in site_list], default=None,
                output_field=IntegerField())


def trunk_case(trunk_list: list | None = None) -> Case | Value:
    trunk_list = trunks() if trunk_list is None else trunk_list
    if not trunk_list:
        return Value(None, output_field=IntegerField())
    return Case(*[When(trunk_q(t), then=Value(t.pk)) for t in trunk_list], default=None,
                output_field=IntegerField())


def annotate_names(queryset, site_list: list, trunk_list: list):
    """``site_name`` (slug) and ``trunk_name`` computed by the database (no per-row Python lookup)."""
    site_name = Case(*[When(site_q(x), then=Value(x.slug)) for x in site_list], default=None,
                     output_field=CharField()) if site_list else Value(None, output_field=CharField())
    trunk_name = Case(*[When(trunk_q(t), then=Value(t.name)) for t in trunk_list], default=None,
                      output_field=CharField()) if trunk_list else Value(None, output_field=CharField())
    return queryset.annotate(site_name=site_name, trunk_name=trunk_name)


def annotate(queryset, site_list: list | None = None, trunk_list: list | None = None):
    """``site_id`` and ``trunk_id`` on every row (NULL when nothing matches)."""
    return queryset.annotate(site_id=site_case(site_list), trunk_id=trunk_case(trunk_list))


def visible(user: Any) -> tuple[list, list]:
    """The sites and trunks a call can be attributed to, as ``user`` sees the estate (voipadmin.scope): a
    delegation's totals and charts name its own sites and E1 lines and the estate's ITSP trunks, no others."""
    from voipadmin.scope import site_scope

    all_sites, all_trunks = sites(), trunks()
    own = site_scope(user)
    if own is None:
        return all_sites, all_trunks
    return ([s for s in all_sites if s.pk in own],
            [t for t in all_trunks if t.kind != "e1" or t.e1trunk.asterisk_node.site_id in own])
