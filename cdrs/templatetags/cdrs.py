"""``{{ record.disposition|disposition }}``: a call's disposition as the reader says it.

Asterisk writes ``ANSWERED``, ``NO ANSWER`` ...; the pages show those words in English (what billing staff
know from the CSV and Asterisk) and their translation in other languages.
"""
from __future__ import annotations

from django import template

from ..models import disposition_label

register = template.Library()


@register.filter
def disposition(value) -> str:
    return disposition_label(value)
