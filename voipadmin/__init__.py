"""voipadmin: the portal that runs a multi-site Kamailio + Asterisk estate."""
from .celery import app as celery_app

__all__ = ("celery_app",)
