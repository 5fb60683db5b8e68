"""Site-limited accounts: every query a person (or token) runs starts from ``restrict(queryset, user, action)``.

A delegation's administrator or helpdesk is limited to one or more sites. The limit is enforced where
queries start, not view by view (NetBox's ``RestrictedQuerySet.restrict(user, action)`` in a slim form): the
generic list/detail/edit/delete/bulk views, the API's viewsets, exports, imports and the dashboard all take
their rows through ``restrict``, so a new page built on them cannot forget it.

Each model says how it belongs to a site with a ``scoped_by`` class attribute:

* a lookup path to a site (``"site"``, ``"asterisk_node__site"``; ``"pk"`` for ``Site`` itself);
* ``ESTATE_WIDE`` — the estate's shared objects (Kamailio nodes, dispatcher sets, service codes, ITSP trunks):
  a site-limited account may look at them, never change them;
* a callable ``(site_ids, action) -> Q`` for anything else (E1 vs ITSP trunks, numbers, call records).

A model that says nothing is **closed** to a site-limited account (an empty queryset): forgetting to declare
a new model's scope hides it, it never leaks another delegation's rows.
"""
from __future__ import annotations

from typing import Any, Callable

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, Q, QuerySet

ESTATE_WIDE = "estate-wide"
VIEW, CHANGE, DELETE = "view", "change", "delete"

_CACHE = "_voipadmin_site_scope"


def site_scope(user: Any) -> frozenset[int] | None:
    """The site ids ``user`` is limited to; ``None`` = the whole estate. Anonymous = no site at all.

    Estate-wide accounts cost no query (the profile comes with the account, see accounts.backends); a
    site-limited one costs one per request (cached on the user object).
    """
    cached = getattr(user, _CACHE, False)
    if cached is not False:
        return cached
    if user is None or not getattr(user, "is_authenticated", False):
        scope: frozenset[int] | None = frozenset()
    else:
        holder = getattr(user, "token", None)  # an API token's principal (voipadmin.api.authentication)
        if holder is None:
            try:
                holder = user.profile
            except (ObjectDoesNotExist, AttributeError):
                holder = None
        scope = holder.site_scope() if holder is not None else None
    try:
        setattr(user, _CACHE, scope)
    except AttributeError:
        pass
    return scope


def forget(user: Any) -> None:
    """Drop the cached scope (after the account's sites changed within the same request)."""
    if hasattr(user, _CACHE):
        delattr(user, _CACHE)


def is_site_limited(user: Any) -> bool:
    return site_scope(user) is not None


def scope_q(model: type[Model], site_ids: frozenset[int], action: str = VIEW) -> Q | None:
    """The filter that keeps ``model``'s rows of ``site_ids``; ``None`` when nothing may be kept."""
    rule: str | Callable[[frozenset[int], str], Q | None] | None = getattr(model, "scoped_by", None)
    if rule is None:
        return None
    if rule == ESTATE_WIDE:
        return Q() if action == VIEW else None
    if callable(rule):
        return rule(site_ids, action)
    return Q(**{f"{rule}__in": site_ids})


def restrict(queryset: QuerySet, user: Any, action: str = VIEW) -> QuerySet:
    """``queryset`` narrowed to what ``user`` may ``action`` (view / change / delete)."""
    site_ids = site_scope(user)
    if site_ids is None:
        return queryset
    q = scope_q(queryset.model, site_ids, action)
    if q is None:
        return queryset.none()
    return queryset.filter(q) if q else queryset


def may(user: Any, obj: Model, action: str = CHANGE) -> bool:
    """Whether ``user`` may ``action`` this one object (one query for a site-limited account, none otherwise)."""
    if site_scope(user) is None:
        return True
    return restrict(type(obj)._default_manager.filter(pk=obj.pk), user, action).exists()


def writable_estate_wide(model: type[Model]) -> bool:
    """Estate-wide objects: site-limited accounts lose every permission but ``view`` on them."""
    return getattr(model, "scoped_by", None) in (None, ESTATE_WIDE)


def restrict_choices(form: Any, user: Any) -> Any:
    """A form's (or filter form's) object choices narrowed to what ``user`` may see: a delegation's
    administrator picks among its own sites and nodes, and a posted id of another site's object is refused
    as an invalid choice, like any id that does not exist."""
    if site_scope(user) is None:
        return form
    for field in form.fields.values():
        queryset = getattr(field, "queryset", None)
        if isinstance(queryset, QuerySet):
            field.queryset = restrict(queryset, user, VIEW)
    return form
