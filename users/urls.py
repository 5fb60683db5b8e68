from django.urls import path

from . import views

app_name = "users"

urlpatterns = [
    path("export/", views.SipUserExportView.as_view(), name="sipuser_export"),
    path("import/", views.SipUserImportView.as_view(), name="sipuser_import"),
    path("import/status/", views.SipUserImportStatusView.as_view(), name="sipuser_import_status"),
    path("import/secrets/", views.SipUserImportSecretsView.as_view(), name="sipuser_import_secrets"),
    path("import/errors/", views.SipUserImportErrorsView.as_view(), name="sipuser_import_errors"),
    path("<int:pk>/reset-password/", views.SipUserResetPasswordView.as_view(), name="sipuser_reset_password"),
    path("<int:pk>/reset-pin/", views.SipUserResetPinView.as_view(), name="sipuser_reset_pin"),
    path("", views.SipUserListView.as_view(), name="sipuser_list"),
    path("bulk/<slug:action>/", views.SipUserBulkView.as_view(), name="sipuser_bulk"),
    path("add/", views.SipUserEditView.as_view(), name="sipuser_add"),
    path("<int:pk>/", views.SipUserDetailView.as_view(), name="sipuser_detail"),
    path("<int:pk>/edit/", views.SipUserEditView.as_view(), name="sipuser_edit"),
    path("<int:pk>/delete/", views.SipUserDeleteView.as_view(), name="sipuser_delete"),
]
