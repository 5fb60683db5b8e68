"""``/api/v1/nodes/``: every node of the estate, Asterisk and Kamailio, in one read-only list.

The issue names one ``nodes`` resource; writes stay on ``nodes/asterisk/`` and
``nodes/kamailio/`` (their fields differ). Each row carries its ``kind`` and the URL of its
kind's endpoint. No secret is ever part of a row. Nodes are few (tens), so the two kinds
are read in one query each and paged in memory: two queries whatever the number of rows.
"""
from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, viewsets

from sites.filtersets import AsteriskNodeFilterSet, KamailioNodeFilterSet
from sites.models import AsteriskNode, KamailioNode
from voipadmin import scope

from .permissions import required_perms as needs
from .viewsets import ApiActorMixin, EstateFilterBackend

VIEW_NODES = ("sites.view_asterisknode", "sites.view_kamailionode")
KINDS = {"asterisk": (AsteriskNode, AsteriskNodeFilterSet), "kamailio": (KamailioNode, KamailioNodeFilterSet)}


class NodeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=sorted(KINDS), read_only=True)
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    site = serializers.IntegerField(read_only=True, allow_null=True, source="site_id",
                                    help_text="The Asterisk's site; null for Kamailio (it serves the estate).")
    address = serializers.CharField(read_only=True, help_text="Asterisk: SIP host; Kamailio: SIP host:port.")
    roles = serializers.CharField(read_only=True, allow_blank=True)
    url = serializers.CharField(read_only=True, help_text="This node on its kind's endpoint (read-write).")
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)

    def to_representation(self, node):
        kind = "asterisk" if isinstance(node, AsteriskNode) else "kamailio"
        return {
            "kind": kind, "id": node.pk, "name": node.name, "enabled": node.enabled,
            "site": getattr(node, "site_id", None),
            "address": node.host if kind == "asterisk" else node.sip_address,
            "roles": getattr(node, "roles", ""),
            "url": reverse(f"api:{kind}node-detail", args=[node.pk]),
            "created": serializers.DateTimeField().to_representation(node.created),
            "updated": serializers.DateTimeField().to_representation(node.updated),
        }


@extend_schema(parameters=[
    OpenApiParameter("kind", str, enum=sorted(KINDS), description="Only nodes of this kind."),
    OpenApiParameter("enabled", bool),
    OpenApiParameter("q", str, description="Search names and addresses."),
])
class NodeViewSet(ApiActorMixin, viewsets.GenericViewSet):
    """Both kinds of node, Asterisk first, by name (read-only)."""

    queryset = AsteriskNode.objects.all()  # (what the permission matrix and the schema look at)
    serializer_class = NodeSerializer
    required_perms = VIEW_NODES  # (methods this endpoint lacks: 405 to whoever may see it, 403 to others)
    filter_backends: list = []

    def _filtered(self, kind: str) -> list:
        model, filterset_class = KINDS[kind]
        params = {k: v for k in ("q", "enabled") if (v := self.request.query_params.get(k)) not in (None, "")}
        params = EstateFilterBackend._strict_booleans(params, filterset_class)  # enabled=maybe: a 400, not "any"
        queryset: QuerySet = scope.restrict(model.objects.order_by("name", "pk"), self.request.user)
        filterset = filterset_class(params, queryset=queryset, request=self.request)
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        return list(filterset.qs)

    @needs(*VIEW_NODES)
    def list(self, request, *args, **kwargs):
        kind = request.query_params.get("kind")
        if kind not in (None, "", *KINDS):
            first, second = sorted(KINDS)  # (two kinds)
            raise exceptions.ValidationError({"kind": gettext("Choose %(first)s or %(second)s.")
                                              % {"first": first, "second": second}})
        nodes = [node for k in KINDS if not kind or k == kind for node in self._filtered(k)]
        page = self.paginate_queryset(nodes)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
