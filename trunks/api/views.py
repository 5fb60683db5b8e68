from django.db.models import Prefetch

from voipadmin.api.viewsets import EstateReadOnlyViewSet, EstateViewSet

from .. import actions
from ..filtersets import E1TrunkFilterSet, ItspTrunkFilterSet, OutboundRouteFilterSet, TrunkFilterSet
from ..models import E1Trunk, ItspTrunk, OutboundRoute, RouteTrunk, Trunk
from .serializers import E1TrunkSerializer, ItspTrunkSerializer, OutboundRouteSerializer, TrunkSerializer


class TrunkViewSet(EstateReadOnlyViewSet):
    """Both kinds in one list (the UI's "all trunks" tab); create and edit on trunks/e1/ or trunks/itsp/."""

    queryset = Trunk.objects.all()
    serializer_class = TrunkSerializer
    filterset_class = TrunkFilterSet
    ordering_fields = ["name", "kind", "created"]
    lookup_value_regex = r"[0-9]+"  # (never shadows trunks/e1/ and trunks/itsp/)


class E1TrunkViewSet(EstateViewSet):
    queryset = E1Trunk.objects.all()
    serializer_class = E1TrunkSerializer
    filterset_class = E1TrunkFilterSet
    ordering_fields = ["name", "span", "created"]
    create_action = staticmethod(actions.create_e1_trunk)
    update_action = staticmethod(actions.update_e1_trunk)
    delete_action = staticmethod(actions.delete_trunk)


class ItspTrunkViewSet(EstateViewSet):
    queryset = ItspTrunk.objects.all()
    serializer_class = ItspTrunkSerializer
    filterset_class = ItspTrunkFilterSet
    ordering_fields = ["name", "host", "created"]
    create_action = staticmethod(actions.create_itsp_trunk)
    update_action = staticmethod(actions.update_itsp_trunk)
    delete_action = staticmethod(actions.delete_trunk)


class OutboundRouteViewSet(EstateViewSet):
    queryset = OutboundRoute.objects.prefetch_related(
        Prefetch("route_trunks", queryset=RouteTrunk.objects.select_related("trunk").order_by("position")))
    serializer_class = OutboundRouteSerializer
    filterset_class = OutboundRouteFilterSet
    ordering_fields = ["name", "priority", "created"]
    create_action = staticmethod(actions.create_route)
    update_action = staticmethod(actions.update_route)
    delete_action = staticmethod(actions.delete_route)
