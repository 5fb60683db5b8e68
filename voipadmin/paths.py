"""Object addresses without a full ``reverse()`` each: a list page links 50–250 rows to their pages.

``reverse()`` walks the URL resolver every time (tens of microseconds); an object's address only differs
by its key, so each URL name is reversed once per mount point with a placeholder key, and the key is put
in its place. Only for routes whose one argument is an ``<int:pk>``.
"""
from __future__ import annotations

from functools import lru_cache

from django.urls import get_script_prefix, reverse

_PLACEHOLDER = 7_315_915_391_957_381  # an integer no real key will take, to find where the key goes


@lru_cache(maxsize=256)
def _around_key(name: str, script_prefix: str) -> tuple[str, str]:
    head, found, tail = reverse(name, args=[_PLACEHOLDER]).partition(str(_PLACEHOLDER))
    assert found, f"{name}: the key is not in its address"
    return head, tail


def object_url(name: str, pk: int) -> str:
    """``reverse(name, args=[pk])`` for a route taking one integer key."""
    head, tail = _around_key(name, get_script_prefix())
    return f"{head}{int(pk)}{tail}"
