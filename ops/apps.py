from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    label = "ops"
    verbose_name = "operations"

    def ready(self) -> None:
        from . import signals

        signals.connect()
