from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SitesConfig(AppConfig):
    name = "sites"
    label = "sites"
    verbose_name = _("Sites and nodes")

    def ready(self) -> None:
        from voipadmin import search

        # every list's search folds accents in SQL: the embedded SQLite needs the function on each connection
        search.install()
