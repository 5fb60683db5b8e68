from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediaConfig(AppConfig):
    """Media applications: conference rooms, IVR menus, announcements and external AGI applications.

    They run outside Asterisk (the application service over ARI, ``manage.py run_media_apps``; FastAGI
    servers), so every Asterisk stays generic. Depends on sites, users and services; live shows them.
    """

    name = "media"
    label = "media"
    verbose_name = _("media applications")

    def ready(self) -> None:
        # services cannot import media (wrong direction): a code that reaches a room, menu or AGI application
        # is guarded through the hooks its actions call
        from services import actions as service_actions
        from services import views as service_views

        from . import actions

        service_actions.code_update_checks.register(actions.code_keeps_its_kind)
        service_actions.code_delete_checks.register(actions.code_not_in_use)
        service_views.code_reaches.append(actions.code_reaches)  # the code's page links what it reaches
