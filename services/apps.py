from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"
    label = "services"

    def ready(self) -> None:
        # Services projects from sites, nodes, trunks and users, and reserves extensions and digit codes; none
        # of those apps may import services (wrong direction), so services registers with their hooks, which
        # their actions call inside their transactions (no model signals: bulk writes are covered too).
        from sites import actions as site_actions
        from sites import guards as site_guards
        from trunks import actions as trunk_actions
        from users import actions as user_actions
        from users import validators as user_validators

        from . import hooks
        from .validators import reserved_extensions, site_ranges_guard

        user_validators.register_extension_check(reserved_extensions)  # users must not take a code's digits
        site_guards.register(site_ranges_guard)  # nor may a site's new range swallow a digit code
        site_actions.asterisk_node_checks.register(hooks.asterisk_node_fits)
        site_actions.site_changed.register(hooks.estate_changed)
        site_actions.node_changed.register(hooks.estate_changed)
        trunk_actions.itsp_changed.register(hooks.estate_changed)
        user_actions.users_changed.register(hooks.users_changed)
