from django.apps import AppConfig


class TrunksConfig(AppConfig):
    name = "trunks"
    label = "trunks"

    def ready(self) -> None:
        # E1 lines follow their node's address; sites cannot import trunks, so trunks registers its check and
        # its projection with the sites actions (they run inside the node's transaction).
        from sites import actions as site_actions

        from . import hooks

        site_actions.asterisk_node_checks.register(hooks.e1_node_fits)
        site_actions.node_changed.register(hooks.node_changed)
