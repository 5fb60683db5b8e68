from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from voipadmin.api.permissions import required_perms
from voipadmin.api.viewsets import EstateViewSet, call_action

from .. import actions, blf
from ..filtersets import SipUserFilterSet
from ..models import SipUser
from .serializers import (BlfSerializer, PasswordIssuedSerializer, PasswordResetSerializer, PinIssuedSerializer,
                          PinResetSerializer, SipUserSerializer)


class SipUserViewSet(EstateViewSet):
    queryset = SipUser.objects.select_related("site").prefetch_related(blf.keys_prefetch())
    serializer_class = SipUserSerializer
    filterset_class = SipUserFilterSet
    ordering_fields = ["extension", "name", "site", "created"]
    create_action = staticmethod(actions.create_user)
    update_action = staticmethod(actions.update_user)
    delete_action = staticmethod(actions.delete_user)
    #: answers that may carry a one-time SIP password or PIN (a create, a change of extension or domain, a reset)
    secret_actions = {"create", "update", "partial_update", "reset_password", "reset_voicemail_pin"}

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "action", None) in self.secret_actions:
            add_never_cache_headers(response)  # Cache-Control: no-store (no proxy or browser cache keeps it)
        return response

    @extend_schema(responses=BlfSerializer, summary="A user's BLF keys, for phone provisioning",
                   description="The phone's account and, key by key, the extension and the presentity URI its "
                               "phone SUBSCRIBEs to at Kamailio (Event: dialog), with the label to show. "
                               "Read-only: the keys are written as the user's monitored_extensions.")
    @action(detail=True, methods=["get"], url_path="blf")
    def blf_keys(self, request, pk=None):
        return Response(BlfSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=PasswordResetSerializer, responses=PasswordIssuedSerializer)
    @action(detail=True, methods=["post"], url_path="reset-password")
    @required_perms("users.change_sipuser")
    def reset_password(self, request, pk=None):
        body = PasswordResetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        password = call_action(actions.reset_password, self.get_object(), actor=self.actor(),
                               password=body.validated_data.get("password") or None)
        return Response({"password": password})

    @extend_schema(request=PinResetSerializer, responses=PinIssuedSerializer)
    @action(detail=True, methods=["post"], url_path="reset-voicemail-pin")
    @required_perms("users.view_sipuser", "users.reset_voicemail_pin")
    def reset_voicemail_pin(self, request, pk=None):
        body = PinResetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pin = call_action(actions.reset_voicemail_pin, self.get_object(), actor=self.actor(),
                          pin=body.validated_data.get("pin") or None)
        return Response({"voicemail_pin": pin})
