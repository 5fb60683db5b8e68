from django.apps import AppConfig


class TrunksConfig(AppConfig):
    name = "trunks"
    label = "trunks"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)
