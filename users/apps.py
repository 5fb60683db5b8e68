from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    label = "users"

    def ready(self) -> None:
        from sites import guards

        from .validators import site_change_guard

        guards.register(site_change_guard)
