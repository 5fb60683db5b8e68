from django.db.models import Prefetch

from voipadmin.api.viewsets import EstateViewSet

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


class KamailioNodeViewSet(EstateViewSet):
    queryset = KamailioNode.objects.all()
    serializer_class = KamailioNodeSerializer
    filterset_class = KamailioNodeFilterSet
    ordering_fields = ["name", "created"]
    create_action = staticmethod(actions.create_kamailio_node)
    update_action = staticmethod(actions.update_kamailio_node)
    delete_action = staticmethod(actions.delete_kamailio_node)
