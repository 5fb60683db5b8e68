from django.db.models import Prefetch
from rest_framework.parsers import JSONParser

from voipadmin.api.viewsets import EstateViewSet

from .. import actions
from ..filtersets import DispatcherSetFilterSet, InboundNumberFilterSet, ServiceCodeFilterSet
from ..models import DispatcherDestination, DispatcherSet, InboundNumber, ServiceCode
from .serializers import DispatcherSetSerializer, InboundNumberSerializer, ServiceCodeSerializer


class DispatcherSetViewSet(EstateViewSet):
    """A set's ``destinations`` is a list of objects: only JSON carries it faithfully. Form and multipart
    bodies would drop a malformed ``destinations[N]…`` part silently and save a set without it, so they
    are refused (415, as documented) rather than half-read."""

    parser_classes = [JSONParser]
    queryset = DispatcherSet.objects.prefetch_related(
        Prefetch("destinations", queryset=DispatcherDestination.objects.order_by("-priority", "node__name")))
    serializer_class = DispatcherSetSerializer
    filterset_class = DispatcherSetFilterSet
    ordering_fields = ["setid", "name", "created"]
    create_action = staticmethod(actions.create_dispatcher_set)
    update_action = staticmethod(actions.update_dispatcher_set)
    delete_action = staticmethod(actions.delete_dispatcher_set)


class ServiceCodeViewSet(EstateViewSet):
    queryset = ServiceCode.objects.all()
    serializer_class = ServiceCodeSerializer
    filterset_class = ServiceCodeFilterSet
    ordering_fields = ["code", "name", "created"]
    create_action = staticmethod(actions.create_service_code)
    update_action = staticmethod(actions.update_service_code)
    delete_action = staticmethod(actions.delete_service_code)


class InboundNumberViewSet(EstateViewSet):
    queryset = InboundNumber.objects.all()
    serializer_class = InboundNumberSerializer
    filterset_class = InboundNumberFilterSet
    ordering_fields = ["number", "created"]
    create_action = staticmethod(actions.create_inbound_number)
    update_action = staticmethod(actions.update_inbound_number)
    delete_action = staticmethod(actions.delete_inbound_number)
