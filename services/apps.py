from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"
    label = "services"

    def ready(self) -> None:
        # Users must not take an extension a service code reserves; users cannot import services
        # (wrong direction), so services registers its check with users' hook.
        from users import validators as user_validators

        from .validators import reserved_extensions

        register = getattr(user_validators, "register_extension_check", None)
        if register is not None:
            register(reserved_extensions)

        # Nor may a site's new extension range swallow a digit code (sites cannot import services either).
        from sites import guards as site_guards

        from .validators import site_ranges_guard

        site_guards.register(site_ranges_guard)

        from . import signals

        signals.connect_user_signals()
