from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from voipadmin.api.permissions import required_perms
from voipadmin.api.viewsets import EstateViewSet, call_action

from .. import actions
from ..filtersets import AsteriskNodeFilterSet, KamailioNodeFilterSet, SiteFilterSet
from ..models import AsteriskNode, ExtensionRange, KamailioNode, Site
from .serializers import AsteriskNodeSerializer, KamailioNodeSerializer, SiteSerializer


class SiteViewSet(EstateViewSet):
    queryset = Site.objects.prefetch_related(
        Prefetch("extension_ranges", queryset=ExtensionRange.objects.order_by("start")))
    serializer_class = SiteSerializer
    filterset_class = SiteFilterSet
    ordering_fields = ["name", "slug", "kind", "created"]
    create_action = staticmethod(actions.create_site)
    update_action = staticmethod(actions.update_site)
    delete_action = staticmethod(actions.delete_site)


class AsteriskNodeViewSet(EstateViewSet):
    queryset = AsteriskNode.objects.select_related("site")
    serializer_class = AsteriskNodeSerializer
    filterset_class = AsteriskNodeFilterSet
    ordering_fields = ["name", "site", "host", "created"]
    create_action = staticmethod(actions.create_asterisk_node)
    update_action = staticmethod(actions.update_asterisk_node)
    delete_action = staticmethod(actions.delete_asterisk_node)

    def _set_draining(self, drain):
        node = call_action(drain, self.get_object(), actor=self.actor())
        return Response(self.get_serializer(node).data)

    @extend_schema(request=None, responses=AsteriskNodeSerializer, summary="Drain a node before maintenance",
                   description="No new calls go to the node (Kamailio's dispatcher holds it disabled once the "
                               "push has reloaded it); the calls it carries finish. Idempotent.")
    @action(detail=True, methods=["post"])
    @required_perms("sites.change_asterisknode")
    def drain(self, request, pk=None):
        return self._set_draining(actions.drain_node)

    @extend_schema(request=None, responses=AsteriskNodeSerializer, summary="Return a drained node to service")
    @action(detail=True, methods=["post"])
    @required_perms("sites.change_asterisknode")
    def undrain(self, request, pk=None):
        return self._set_draining(actions.return_node_to_service)


class KamailioNodeViewSet(EstateViewSet):
    queryset = KamailioNode.objects.all()
    serializer_class = KamailioNodeSerializer
    filterset_class = KamailioNodeFilterSet
    ordering_fields = ["name", "created"]
    create_action = staticmethod(actions.create_kamailio_node)
    update_action = staticmethod(actions.update_kamailio_node)
    delete_action = staticmethod(actions.delete_kamailio_node)
