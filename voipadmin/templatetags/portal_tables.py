"""``{{ rows|table_rows }}``: the ``<tr>`` rows of a list page (generic/object_list.html), built in Python.

A page of 50 objects x 8 columns is 400 cells; looping over them in the template cost about half of the users
list's time (bench/production.py). The output is the template loop's: the first cell links to the object,
booleans are icons, None is empty, every other value is localised and escaped exactly as ``{{ cell }}``.
A filter (not a value computed by the view) so that a view that rewrites ``rows`` after the generic view
(cdrs) is rendered with its own rows.
"""
from __future__ import annotations

from html import escape as html_escape
from typing import Any

from django import template
from django.conf import settings
from django.template.base import render_value_in_context
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

register = template.Library()

_YES = '<td><i class="bi bi-check-circle-fill text-success" title="{}"></i></td>'
_NO = '<td><i class="bi bi-x-circle text-muted" title="{}"></i></td>'


def _escaped(value: Any) -> str:
    """``conditional_escape(value)``, without the lazy-argument check Django's ``escape`` makes on every call (a
    page escapes a thousand-odd values); the same ``html.escape`` underneath."""
    if isinstance(value, Promise):
        value = str(value)
    html = getattr(value, "__html__", None)
    return html() if html is not None else html_escape(str(value))


def _text(value: Any, context: template.Context) -> str:
    """``{{ value }}``: strings and integers (most cells) the quick way; anything else localised as templates do."""
    if isinstance(value, str):
        return _escaped(value)
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:  # what localize() makes of an int
        return str(value)
    return render_value_in_context(value, context)


@register.filter(needs_autoescape=False)
def table_rows(rows: list[tuple[Any, list[Any]]], selectable: bool = False) -> SafeString:
    """``selectable``: each row starts with a checkbox ``pk`` of the list's bulk form (``#bulk-form``)."""
    context = template.Context()  # autoescape on, the active time zone and formats: what {{ cell }} uses
    out = []
    yes, no = _YES.format(escape(gettext("yes"))), _NO.format(escape(gettext("no")))  # once a page, not a cell
    select = gettext("Select %(object)s")
    for obj, cells in rows:
        tds = [f'<td><input type="checkbox" class="form-check-input va-select" name="pk" '
               f'value="{html_escape(str(obj.pk))}" form="bulk-form" '
               f'aria-label="{html_escape(select % {"object": obj})}"></td>'] if selectable else []
        if cells:
            tds.append(f'<td><a href="{html_escape(str(obj.get_absolute_url()))}">{_text(cells[0], context)}</a></td>')
        for cell in cells[1:]:
            if cell is True:
                tds.append(yes)
            elif cell is False:
                tds.append(no)
            else:
                tds += ["<td>", _text("" if cell is None else cell, context), "</td>"]
        out.append("<tr>" + "".join(tds) + "</tr>")
    return mark_safe("\n".join(out))
