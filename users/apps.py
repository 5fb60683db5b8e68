from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    label = "users"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from sites import guards

        from . import importjobs
        from .validators import site_change_guard

        guards.register(site_change_guard)
        # An import's sealed files (upload, generated secrets, errors) go with the session that made them.
        # (A login signal, not a model one: no domain projection hangs on it.)
        user_logged_out.connect(importjobs.forget_session, dispatch_uid="users-import-files-at-logout")
