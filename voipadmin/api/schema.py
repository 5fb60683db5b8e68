"""OpenAPI schema fixes applied after drf-spectacular builds it."""
from __future__ import annotations

from typing import Any

BLANK_STRING = {"type": "string", "maxLength": 0}


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
