"""Forms that show only the fields that apply to a choice (an ITSP by IP or by registration, a service code's
target kind).

A form declares ``show_when = {"username": ("auth_mode", {"registration"}), ...}``. Each such field's widget
gets ``data-show-when="auth_mode=registration"``; static/js/conditional-fields.js (loaded by
generic/object_edit.html) hides the fields whose condition is false as the choice changes (without JS every
field is shown and the form still works). On the server the same rule decides: a field that does not apply is
neither validated nor kept — its value becomes the model field's default, so a value typed before switching the
choice (and then hidden) is never saved.
"""
from __future__ import annotations

from typing import Any


class ShowWhenMixin:
    """For ModelForms: ``show_when`` maps a field to (controlling field, the values it applies for)."""

    show_when: dict[str, tuple[str, set[str]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (controller, values) in self.show_when.items():
            if name in self.fields:
                self.fields[name].widget.attrs["data-show-when"] = f"{controller}={'|'.join(sorted(values))}"
                if self.is_bound and not self.applies(name, self.data.get(self.add_prefix(controller))):
                    self.fields[name].required = False

    def applies(self, name: str, choice: Any) -> bool:
        controller, values = self.show_when[name]
        return str(choice if choice is not None else "") in values

    def not_applying(self) -> list[str]:
        """The fields that do not apply to the cleaned choices (none while a choice itself is invalid)."""
        out = []
        for name, (controller, values) in self.show_when.items():
            if controller in self.cleaned_data and not self.applies(name, self.cleaned_data[controller]):
                out.append(name)
        return out

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in self.not_applying():
            self._errors.pop(name, None)
            cleaned[name] = self.empty_value(name)
        return cleaned

    def empty_value(self, name: str) -> Any:
        """What a field that does not apply is saved as: the model field's default (blank, None or e.g. 3600)."""
        model_field = self._meta.model._meta.get_field(name)
        if model_field.has_default():
            return model_field.get_default()
        return None if model_field.null else ""
