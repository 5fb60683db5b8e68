from django.apps import AppConfig


class VoipadminConfig(AppConfig):
    name = "voipadmin"
    verbose_name = "voipadmin core"

    def ready(self) -> None:
        import os

        from django.db.models.signals import post_migrate

        from .roles import sync_after_migrate

        post_migrate.connect(sync_after_migrate, dispatch_uid="voipadmin-sync-roles")

        from django.conf import settings

        os.makedirs(settings.STATIC_ROOT, exist_ok=True)  # whitenoise expects it even before collectstatic
        # The embedded broker keeps its queue in files; make sure the folders exist.
        if settings.CELERY_BROKER_URL.startswith("filesystem"):
            for key in ("data_folder_in", "processed_folder"):
                os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)
