from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Portal log-in accounts: the sites an account is limited to, its language and time zone, two-factor login."""

    name = "accounts"
    label = "accounts"
    verbose_name = "Portal accounts"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        # An account's password hash is a secret like a SIP password: the audit log masks it, whatever wrote it
        get_user_model().audit_secret_fields = ("password",)
