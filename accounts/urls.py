from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.AccountListView.as_view(), name="user_list"),
    path("add/", views.AccountEditView.as_view(), name="user_add"),
    path("<int:pk>/", views.AccountDetailView.as_view(), name="user_detail"),
    path("<int:pk>/edit/", views.AccountEditView.as_view(), name="user_edit"),
    path("<int:pk>/disable/", views.AccountDisableView.as_view(), name="user_disable"),
    path("<int:pk>/enable/", views.AccountEnableView.as_view(), name="user_enable"),
    path("<int:pk>/reset-password/", views.AccountResetPasswordView.as_view(), name="user_reset_password"),
    # every signed-in account's own
    path("me/", views.MyAccountView.as_view(), name="me"),
    path("me/password/", views.OwnPasswordChangeView.as_view(), name="password_change"),
    path("me/password/done/", views.OwnPasswordChangeDoneView.as_view(), name="password_change_done"),
]
