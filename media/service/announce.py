"""The ``announce`` kind: which uploaded announcement a call should hear, looked up when the call comes.

The node's static ``[va-announce]`` hands the channel over with ``announce:<purpose>:<site>``; this sets
``VA_ANNOUNCE`` to the site's (else the estate's) announcement URL and hands the channel straight back to the
next priority, where Playback plays it (or the stock sound when it is empty). The service only answers a
question: it holds no call while the sound plays, so a restart of the service never cuts one.
"""
from __future__ import annotations

import logging

from media import sounds

from .calls import CallContext, register

log = logging.getLogger("media.service")


def announcement_url(site: str, purpose: str) -> str:
    announcement = sounds.site_announcement(site, purpose)
    return sounds.sound_url(announcement) if announcement is not None else ""


async def announce_call(ctx: CallContext) -> None:
    purpose = ctx.args[1] if len(ctx.args) > 1 else ""
    site = (ctx.args[2] if len(ctx.args) > 2 else "") or ctx.node.site
    try:
        url = await ctx.db(announcement_url, site, purpose)
    except Exception:  # noqa: BLE001 - a database hiccup must not cost the caller more than the stock sound
        log.exception("%s: announcement lookup failed", ctx)
        url = ""
    if url:
        await ctx.set_variable("VA_ANNOUNCE", url)
    # no context/extension: the dialplan's next priority, in [va-announce]
    await ctx.ari.post(f"/channels/{ctx.channel_id}/continue")


register("announce", announce_call)
