"""The OpenAPI schema says every answer the API gives, so clients can be generated from it.

drf-spectacular documents the success answer of each operation; ``EstateAutoSchema`` adds the
error answers the API's base classes give everywhere (one shape for each), and the hooks below fix
what drf-spectacular builds. schemathesis (tests/api/test_schemathesis.py) holds the schema to it.
"""
from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.pagination import PageNumberPagination

BLANK_STRING = {"type": "string", "maxLength": 0}
#: free text in a query: anything but NUL, which PostgreSQL's text cannot hold (the API answers it with a 400)
NO_NUL = r"^[^\u0000]*$"

ERROR = {
    "type": "object",
    "description": "What went wrong, for a person to read.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "type": "object",
    "description": "The request was refused as it was sent: each key names a field or query parameter "
                   "(``non_field_errors``, ``detail`` for the request as a whole) with its message or messages.",
    "additionalProperties": {},
}
#: status → (description, component name); added to every operation it can answer (see ``error_codes``)
ERRORS = {
    "400": ("Bad input: a field, a query parameter or the body is not valid (nothing was changed).",
            "ValidationError"),
    "401": ("No credentials, or a token that is unknown, revoked, expired or used from a network it is not "
            "allowed from.", "Error"),
    "403": ("The account or token may not do this.", "Error"),
    "404": ("No such object (or page).", "Error"),
    "409": ("The change conflicts with the estate as it is now: the object is still in use, or another change "
            "saved first (a unique value, an object it refers to deleted meanwhile, a lock). Nothing was saved; "
            "reload and try again.", "Error"),
    "415": ("The body is not in a media type this operation reads.", "Error"),
}
COMPONENTS = {"Error": ERROR, "ValidationError": VALIDATION_ERROR}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class EstateAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the error answers every operation can give."""

    def error_codes(self) -> list[str]:
        codes = ["400", "401", "403"]
        if "{" in self.path or self._paged_by_number():
            codes.append("404")
        if self.method in WRITES:
            codes.append("409")
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("415")
        return codes

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation:
            choices = self._callable_choices()
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query" or parameter.get("required"):
                    continue
                # django-filter, DRF's pages and the orderings all read ``?x=`` as "x not given": say so, so
                # that a client (and schemathesis) knows the empty value is answered like no value
                parameter["allowEmptyValue"] = True
                schema = parameter["schema"]
                if parameter["name"] in choices and "enum" not in schema:
                    schema["enum"] = choices[parameter["name"]]
                if schema.get("type") == "string" and not {"enum", "pattern", "format"} & schema.keys():
                    schema["pattern"] = NO_NUL  # (ApiActorMixin.initial refuses NUL at the door)
        return operation

    def _callable_choices(self) -> dict[str, list]:
        """Choice filters whose choices a function gives (drf-spectacular leaves them a bare string, so any
        string would look valid and get a 400): the estate's are constant lists, never a query."""
        filterset_class = getattr(self.view, "filterset_class", None)
        if filterset_class is None:
            return {}
        return {name: [value for value, _label in f.extra["choices"]()]
                for name, f in filterset_class.base_filters.items()
                if isinstance(f, django_filters.ChoiceFilter) and callable(f.extra.get("choices"))}

    def _paged_by_number(self) -> bool:
        """A page number past the last page is a 404 (DRF's PageNumberPagination)."""
        return self._is_list_view() and isinstance(self._get_paginator(), PageNumberPagination)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            if code in responses:
                continue
            description, name = ERRORS[code]
            self.registry.register_on_missing(ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, schema=COMPONENTS[name], object=f"voipadmin.{name}"))
            responses[code] = {"description": description,
                               "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
        return responses


def blank_alternatives_any_of(result: dict, generator: Any = None, request: Any = None, public: Any = None) -> dict:
    """A ``blank=True`` field with a regex validator is described as ``oneOf: [pattern, blank]``.

    When the pattern also matches "" (``^[0-9]*$``), "" matches both and ``oneOf`` rejects the
    very value the API answers; ``anyOf`` says what is meant.
    """

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            alternatives = node.get("oneOf")
            if isinstance(alternatives, list) and BLANK_STRING in alternatives:
                node["anyOf"] = node.pop("oneOf")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
