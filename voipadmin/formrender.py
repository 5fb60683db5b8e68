"""Django's form renderer, with the plain widgets (text inputs, selects) written in Python.

Why: a list page's filter form is four widgets, and rendering them through Django's widget templates (an
``{% include %}`` per ``<option>``) cost 7.5 ms of the users list's ~19 ms of CPU (bench/production.py).
The output is the templates' byte for byte — ``tests/foundation/test_formrender.py`` renders every form of
the portal both ways — and any other template (a custom widget, a form layout) goes through Django as before.
"""
from __future__ import annotations

from typing import Any, Callable

from django.forms.renderers import DjangoTemplates
from django.template import Context
from django.template.base import render_value_in_context
from django.utils.html import conditional_escape, escape

_W = "django/forms/widgets/"
#: Django's widget templates that are exactly ``{% include "django/forms/widgets/input.html" %}``
INPUTS = {f"{_W}{name}.html" for name in ("input", "checkbox", "color", "date", "datetime", "email", "file",
                                           "hidden", "number", "password", "search", "tel", "text", "time", "url")}


def _attrs(attrs: dict[str, Any]) -> str:
    """attrs.html: `` name="value"`` for each attribute, `` name`` for True, nothing for False."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {conditional_escape(name)}" if value is True else f' {conditional_escape(name)}="{escape("%s" % (value,))}"')
    return "".join(out)


def _input(widget: dict[str, Any], context: Context) -> str:
    value = "" if widget["value"] is None else f' value="{escape("%s" % (widget["value"],))}"'
    return (f'<input type="{render_value_in_context(widget["type"], context)}" '
            f'name="{render_value_in_context(widget["name"], context)}"{value}{_attrs(widget["attrs"])}>')


def _option(option: dict[str, Any], context: Context) -> str:
    return (f'<option value="{escape("%s" % (option["value"],))}"{_attrs(option["attrs"])}>'
            f'{render_value_in_context(option["label"], context)}</option>')


def _select(widget: dict[str, Any], context: Context) -> str:
    out = [f'<select name="{render_value_in_context(widget["name"], context)}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{render_value_in_context(group_name, context)}">')
        for option in options:
            if option["template_name"] != f"{_W}select_option.html":
                return ""  # (a custom option template: let Django render the whole widget)
            out.append("\n  " + _option(option, context) + "\n")  # (select_option.html ends with a newline)
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


_FAST: dict[str, Callable[[dict[str, Any], Context], str]] = {
    **{name: _input for name in INPUTS}, f"{_W}select.html": _select}


class FormRenderer(DjangoTemplates):
    def render(self, template_name: str, context: dict[str, Any], request=None) -> str:
        fast = _FAST.get(template_name)
        if fast is not None and request is None and "widget" in context:
            html = fast(context["widget"], Context(autoescape=True))
            if html:
                return html
        return super().render(template_name, context, request)
