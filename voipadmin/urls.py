from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from . import token_views, views
from live.views import DashboardView  # the URLconf is the composition root: it may import apps
from accounts.twofactor_views import TwoFactorLoginView
from media import sound_views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
    path("login/", TwoFactorLoginView.as_view(), name="login"),  # the password, then the code if enrolled
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", views.ChangeLogListView.as_view(), name="changelog_list"),
    path("audit/<int:pk>/", views.ChangeLogDetailView.as_view(), name="changelog_detail"),
    path("api-tokens/", token_views.ApiTokenListView.as_view(), name="apitoken_list"),
    path("api-tokens/<int:pk>/revoke/", token_views.ApiTokenRevokeView.as_view(), name="apitoken_revoke"),
    path("accounts/", include("accounts.urls")),  # portal accounts (accounts/views.py)
    path("", include("accounts.twofactor_urls")),  # two-factor login (accounts/twofactor_views.py)
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language picker's form
    path("", include("sites.urls")),
    path("users/", include("users.urls")),
    path("trunks/", include("trunks.urls")),
    path("services/", include("services.urls")),
    path("media/", include("media.urls")),
    path("push/", include("push.urls")),
    path("live/", include("live.urls")),
    path("cdrs/", include("cdrs.urls")),
    path("", include("voipadmin.api_urls")),
    path("", include("ops.urls")),  # /healthz, /metrics
    # announcements as the Asterisk nodes fetch them: no login, the URL is the secret (media/sounds.py)
    re_path(r"^sounds/(?P<pk>[0-9]+)/(?P<sha256>[0-9a-f]{64})-(?P<token>[0-9a-f]{32})\.wav\Z", sound_views.serve,
            name="media_sound"),
    path("django-admin/", admin.site.urls),
]

handler404 = "voipadmin.api.exceptions.page_not_found"  # JSON under /api/, the page elsewhere
