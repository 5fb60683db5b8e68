from django.apps import AppConfig


class NodeconfConfig(AppConfig):
    name = "nodeconf"
    label = "nodeconf"
    verbose_name = "Node configuration"
