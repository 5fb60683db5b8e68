"""The one Celery app. Each domain app keeps its tasks in tasks.py (autodiscovered)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")

app = Celery("voipadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
