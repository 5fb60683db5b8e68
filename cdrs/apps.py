from django.apps import AppConfig


class CdrsConfig(AppConfig):
    name = "cdrs"
    label = "cdrs"
