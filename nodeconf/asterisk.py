"""The static configuration each Asterisk of the estate runs, generated from the portal's objects.

Everything that changes every day (users, mailboxes, service codes) is realtime: Asterisk reads it from
the shared database on each call, so no file has to change when it does. What stays in files is what a
node needs to start and to know its place in the estate: its transport and AMI/ARI listeners with the
node's own credentials (as stored, encrypted, in the portal), the database it reads and how, the
Kamailio(s) it trusts, one dialplan context per site, its E1 lines, voicemail time zones per site.

``render_node(node, db=...)`` returns ``{file name: text}``; ``manage.py asterisk_config NODE --out DIR``
writes them. The templates are ``deploy/asterisk/templates/*.conf`` (Django template syntax, no HTML
escaping); every value is passed through :func:`conf_value`, which refuses what Asterisk's config
parser would misread instead of writing it.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.template import Context, Engine
from django.utils.translation import gettext


from sites.models import AsteriskNode, KamailioNode, Site
from sites.ranges import asterisk_patterns
from voipadmin import numbers

TEMPLATES_DIR = Path(settings.BASE_DIR) / "deploy" / "asterisk" / "templates"

#: Files written for every node, in this order (asterisk.conf only with ``directories``).
FILES = (
    "asterisk.conf", "modules.conf", "logger.conf", "extconfig.conf", "sorcery.conf", "res_pgsql.conf",
    "cdr.conf", "cdr_pgsql.conf", "cel.conf", "cel_pgsql.conf", "pjsip.conf", "extensions.conf", "voicemail.conf",
    "confbridge.conf", "manager.conf", "http.conf", "ari.conf", "rtp.conf", "indications.conf", "pjsip_notify.conf",
    "udptl.conf", "acl.conf", "pjproject.conf", "features.conf", "cli.conf", "res_http_media_cache.conf",
)
#: Asterisk's [directories] keys: (where, sub-path). "prefix" is the installation (binaries, modules),
#: "state" the node's own files (databases, spool, logs, sounds); astetcdir is where these files go.
DIRECTORY_KEYS = {
    "astmoddir": ("prefix", "lib/asterisk/modules"), "astsbindir": ("prefix", "sbin"),
    "astvarlibdir": ("state", "var/lib/asterisk"), "astdbdir": ("state", "var/lib/asterisk"),
    "astkeydir": ("state", "var/lib/asterisk"), "astdatadir": ("state", "var/lib/asterisk"),
    "astagidir": ("state", "var/lib/asterisk/agi-bin"), "astspooldir": ("state", "var/spool/asterisk"),
    "astrundir": ("state", "var/run/asterisk"), "astlogdir": ("state", "var/log/asterisk"),
    "astcachedir": ("state", "var/cache/asterisk"),
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ConfigValueError(ValueError):
    """A value the portal holds cannot be written into an Asterisk config file safely."""


def conf_value(value) -> str:
    """A value for ``key = value`` in an Asterisk .conf file.

    Asterisk's parser ends a line at CR/LF and a comment at an unescaped ``;``: a newline in a
    secret would add directives, a ``;`` would cut the value short. Control characters are
    refused (nothing legitimate has them); ``;`` is escaped as ``\\;``, which Asterisk unescapes.
    """
    text = "" if value is None else str(value)
    if _CONTROL.search(text):
        raise ConfigValueError(gettext("%(value)s… contains control characters (a line break?) and cannot go into "
                                       "an Asterisk config file") % {"value": repr(text[:20])})

    return text.strip().replace(";", r"\;")


@dataclass(frozen=True)
class DatabaseAccess:
    """How a node reaches the shared database (res_config_pgsql and cdr_pgsql use the same)."""

    host: str
    port: int
    name: str
    user: str
    password: str
    #: the schema the role sees through its search_path ("public" for the estate-wide views)
    schema: str = "public"
    #: the site the views are filtered to (None: the whole estate)
    site_slug: str | None = None


@dataclass(frozen=True)
class Peer:
    name: str
    host: str
    port: int

    @property
    def uri_host(self) -> str:
        """The host as a SIP URI writes it (an IPv6 address in brackets)."""
        return f"[{self.host}]" if ":" in self.host else self.host


@dataclass
class NodeConfig:
    """Everything the templates need, computed once (and unit-testable without rendering)."""

    node: AsteriskNode
    db: DatabaseAccess
    systemname: str
    sip_bind: str
    ami_bind: str
    ami_permit: list[str]
    ari_enabled: bool
    http_bind: str
    http_port: int
    kamailios: list[Peer]
    sites: list[Site]
    zonemessages: list[tuple[str, str]]
    e1_trunks: list = field(default_factory=list)
    #: site slug → Asterisk patterns covering its extension ranges (for the hints)
    hint_patterns: dict[str, list[str]] = field(default_factory=dict)
    #: busy lamps (issue 15): patterns of every extension range of the estate, whatever sites this node
    #: serves (any node may carry a call of any extension), and how long Kamailio keeps a PUBLISH
    lamp_patterns: list[str] = field(default_factory=list)
    publish_expires: int = 60
    directories: dict[str, str] = field(default_factory=dict)
    cdr_time_zone: str = "UTC"


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _bind_address(host: str) -> str:
    """Asterisk binds to addresses, not names: a node known by name listens on every address."""
    return _ip_literal(host) or "0.0.0.0"


def _hostport(text: str, default_port: int = 5060) -> tuple[str, int]:
    text = (text or "").strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    return host, int(port) if numbers.is_number(port) else default_port


def kamailio_peers() -> list[Peer]:
    peers = []
    for kam in KamailioNode.objects.filter(enabled=True).order_by("name"):
        host, port = _hostport(kam.sip_address)
        peers.append(Peer(name=kam.name, host=host, port=port))
    return peers


def systemname(node: AsteriskNode) -> str:
    """Asterisk prefixes every uniqueid with its systemname: CDRs of different nodes never collide."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", node.name).strip("-")[:60] or f"node{node.pk}"


def directories(*, etc: str | Path, prefix: str | Path, state: str | Path) -> dict[str, str]:
    """Every [directories] path (a relocatable build needs them all: its compiled-in paths are /opt)."""
    roots = {"prefix": Path(prefix), "state": Path(state)}
    paths = {"astetcdir": str(Path(etc))}
    paths.update({key: str(roots[where] / sub) for key, (where, sub) in DIRECTORY_KEYS.items()})
    return paths


def build(node: AsteriskNode, *, db: DatabaseAccess, portal_networks: list[str] | None = None,
          dirs: dict[str, str] | None = None) -> NodeConfig:
    ari = urlparse(node.ari_url or "")
    ari_enabled = bool(node.ari_url and node.ari_username)
    sites = list(Site.objects.prefetch_related("extension_ranges").order_by("slug"))
    lamp_patterns = [p for s in sites for r in s.extension_ranges.all() for p in asterisk_patterns(r.start, r.end)]
    if db.site_slug:  # a per-site role sees one site's users and dialplan: configure that site only
        sites = [s for s in sites if s.slug == db.site_slug]
    from trunks.models import E1Trunk

    return NodeConfig(
        node=node, db=db, systemname=systemname(node),
        sip_bind=f"{_bind_address(node.host)}:{node.sip_port}",
        ami_bind=_bind_address(node.effective_ami_host),
        ami_permit=list(portal_networks or settings.ASTERISK_MANAGER_PERMIT),
        ari_enabled=ari_enabled,
        http_bind=_bind_address(ari.hostname or node.host) if ari_enabled else "127.0.0.1",
        http_port=(ari.port or 8088) if ari_enabled else 8088,
        kamailios=kamailio_peers(), sites=sites,
        zonemessages=[(s.slug, s.time_zone) for s in sites],
        e1_trunks=list(E1Trunk.objects.filter(asterisk_node=node, enabled=True).order_by("span")),
        hint_patterns={s.slug: [p for r in s.extension_ranges.all() for p in asterisk_patterns(r.start, r.end)]
                       for s in sites},
        lamp_patterns=lamp_patterns,
        # an estate setting, not a per-node option: the estate check compares each node's files with it
        publish_expires=int(settings.ASTERISK_PUBLISH_EXPIRES_SECONDS),
        directories=dict(dirs or {}),
        cdr_time_zone=settings.CDR_TIME_ZONE,
    )


_ENGINE: Engine | None = None


def engine() -> Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine(dirs=[str(TEMPLATES_DIR)], autoescape=False, debug=False,
                         libraries={"conf": "nodeconf.templatetags.conf"})
    return _ENGINE


def render(config: NodeConfig) -> dict[str, str]:
    """``{file name: text}`` for the node (asterisk.conf only when directories are given)."""
    from . import __version__

    context = Context({"c": config, "node": config.node, "db": config.db, "version": __version__})
    files = {}
    for name in FILES:
        if name == "asterisk.conf" and not config.directories:
            continue
        files[name] = engine().get_template(name).render(context)
    return files


def render_node(node: AsteriskNode, *, db: DatabaseAccess, portal_networks: list[str] | None = None,
                dirs: dict[str, str] | None = None) -> dict[str, str]:
    return render(build(node, db=db, portal_networks=portal_networks, dirs=dirs))
