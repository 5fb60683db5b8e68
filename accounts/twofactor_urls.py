"""Two-factor login (accounts/twofactor_views.py); the log-in page itself is voipadmin/urls.py's ``login``."""
from django.urls import path

from . import twofactor_views as views

app_name = "twofactor"
urlpatterns = [
    path("login/code/", views.TwoFactorVerifyView.as_view(), name="verify"),
    path("two-factor/", views.TwoFactorSetupView.as_view(), name="setup"),
    path("two-factor/recovery-codes/", views.RecoveryCodesView.as_view(), name="recovery_codes"),
    path("two-factor/disable/", views.DisableView.as_view(), name="disable"),
]
