"""External FastAGI applications: hand a call to the servers a delegation already runs.

The application service does not talk AGI itself: it puts the application's servers on the channel, in the
order its strategy gives, and continues the call into the static ``[va-agi]`` context (the same lines on every
node), which runs ``AGI(<url>,<app id>,<app type>)`` on each in turn until one could be reached (AGISTATUS is
not FAILURE), then hangs up. So a dead server costs a refused connection (or Asterisk's 2 s connect timeout),
and the call stays on the node that has it.

What a server receives (Asterisk's FastAGI request): ``agi_request`` is the whole URL,
``agi_network_script`` the part after ``host:port/``, i.e. ``<script>?appid=<app id>&apptype=<app type>``
(the query FastAGI frameworks such as Asterisk-Java parse into parameters), and the same two values as the
AGI's arguments, ``agi_arg_1`` (app id) and ``agi_arg_2`` (app type), for a server that reads no query string.
panoramisk's ``fast_agi.Application`` routes on ``agi_network_script`` as a whole (register
``"<script>?appid=..&apptype=.."``) and hands every header to the handler (``request.headers``).

Channel variables (read by ``[va-agi]``): ``VA_AGI_COUNT``, ``VA_AGI_1`` .. ``VA_AGI_<n>``,
``VA_AGI_APPID``, ``VA_AGI_APPTYPE``.
"""
from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Iterable, Sequence
from urllib.parse import urlencode

from media.models import AgiStrategy

if TYPE_CHECKING:  # pragma: no cover
    from media.models import AgiApplication, AgiServer

__all__ = ["CONTEXT", "agi_url", "ordered_servers", "channel_variables", "run"]

log = logging.getLogger(__name__)

#: the static dialplan context that tries the servers (deploy/asterisk/templates/extensions.conf)
CONTEXT = "va-agi"


def agi_url(app: "AgiApplication", server: "AgiServer") -> str:
    """``agi://host:port/<script>?appid=<app id>&apptype=<app type>`` (an IPv6 host in brackets)."""
    host = server.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    query = urlencode({"appid": app.app_id, "apptype": app.app_type})
    return f"agi://{host}:{server.port}/{app.script}?{query}"


def ordered_servers(app: "AgiApplication", servers: Iterable["AgiServer"],
                    rng: random.Random | None = None) -> list["AgiServer"]:
    """The enabled servers in the order ``[va-agi]`` tries them: by position (failover), or, to share the
    calls (round robin), from a random one of them on, wrapping round, so each call still fails over to all."""
    ordered = sorted((s for s in servers if s.enabled), key=lambda s: (s.position, s.pk or 0))
    if app.strategy == AgiStrategy.ROUND_ROBIN and len(ordered) > 1:
        start = (rng or random).randrange(len(ordered))
        ordered = ordered[start:] + ordered[:start]
    return ordered


def channel_variables(app: "AgiApplication", servers: Sequence["AgiServer"]) -> dict[str, str]:
    """What ``[va-agi]`` reads, for ``servers`` already in order."""
    variables = {"VA_AGI_COUNT": str(len(servers)), "VA_AGI_APPID": app.app_id, "VA_AGI_APPTYPE": app.app_type}
    for index, server in enumerate(servers, start=1):
        variables[f"VA_AGI_{index}"] = agi_url(app, server)
    return variables


def _servers(app: "AgiApplication") -> list["AgiServer"]:
    return list(app.servers.all())


async def run(ctx, app: "AgiApplication", *, rng: random.Random | None = None) -> None:
    """Send the call to ``app``'s FastAGI servers through ``[va-agi]`` (a service code, DDI or menu option
    that targets the application); none enabled: the call ends (service unavailable)."""
    servers = ordered_servers(app, await ctx.db(_servers, app), rng)
    if not app.enabled or not servers:
        log.warning("AGI application %s (%s): %s, call %s ends", app.name, app.app_id,
                    "disabled" if not app.enabled else "no enabled server", ctx.channel_id)
        from .codes import unavailable  # (the code handler's: the site's announcement, then hang up)

        await unavailable(ctx)
        return
    log.info("AGI application %s (%s): call %s to %s", app.name, app.app_id, ctx.channel_id,
             ", ".join(f"{s.host}:{s.port}" for s in servers))
    await ctx.continue_in(CONTEXT, "s", variables=channel_variables(app, servers))
