from django.apps import AppConfig


class KamailioConfig(AppConfig):
    name = "voipadmin.kamailio"
    label = "kamailio"
    verbose_name = "Kamailio tables"
    default_auto_field = "django.db.models.AutoField"
