from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "push"
    label = "push"
