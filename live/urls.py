from django.urls import path

from . import views

app_name = "live"

urlpatterns = [
    path("fragments/estate/", views.EstateFragmentView.as_view(), name="estate_fragment"),
    path("history.json", views.CallHistoryView.as_view(), name="call_history"),
    path("extension-states/", views.ExtensionStateBadgesView.as_view(), name="extension_state_badges"),
    path("destination-states/", views.DestinationStatesView.as_view(), name="destination_states"),
    path("calls/", views.ActiveCallListView.as_view(), name="activecall_list"),
    path("registrations/", views.RegistrationListView.as_view(), name="registration_list"),
    path("users/<int:pk>/panel/", views.UserPanelView.as_view(), name="user_panel"),
    path("users/<int:pk>/hangup/", views.UserHangupView.as_view(), name="user_hangup"),
    path("users/<int:pk>/originate/", views.UserOriginateView.as_view(), name="user_originate"),
    path("users/<int:pk>/listen/", views.UserListenInView.as_view(), name="user_listen"),
    path("nodes/asterisk/<int:pk>/", views.AsteriskNodeLiveView.as_view(), name="asterisk_node"),
    path("nodes/asterisk/<int:pk>/fragment/", views.AsteriskNodeFragmentView.as_view(),
         name="asterisk_node_fragment"),
    path("nodes/asterisk/<int:pk>/test/", views.NodeTestView.as_view(kind="asterisk"), name="asterisk_node_test"),
    path("nodes/kamailio/<int:pk>/", views.KamailioNodeLiveView.as_view(), name="kamailio_node"),
    path("nodes/kamailio/<int:pk>/fragment/", views.KamailioNodeFragmentView.as_view(),
         name="kamailio_node_fragment"),
    path("nodes/kamailio/<int:pk>/test/", views.NodeTestView.as_view(kind="kamailio"), name="kamailio_node_test"),
]
