"""The ``code`` kind: a caller dialled a service code whose kind runs in the application service.

``[va-app]`` passes ``code,<dialled code>,<caller's site>``. One query finds the code with the room, menu or
AGI application it reaches (read when the call arrives: a change in the portal applies to the next call).
The answer goes out at the same time as that query, so the caller's wait is the node's, not the database's.
"""
from __future__ import annotations

import asyncio
import logging

from django.db import DatabaseError

from services.choices import Announcement as Purpose, ServiceKind
from services.models import ServiceCode

from .calls import CallContext, CallEnded, register

log = logging.getLogger("media.service")
UNAVAILABLE_SOUND = "sound:ss-noservice"


def resolve(code: str) -> ServiceCode | None:
    return (ServiceCode.objects.select_related("conference_room", "ivr_menu", "agi_application")
            .filter(code=code, enabled=True).first())


def _target(code: ServiceCode | None):
    """(what, object) the code reaches, or (None, None) when nothing enabled is behind it."""
    if code is None:
        return None, None
    if code.kind == ServiceKind.ROOMS:
        return "rooms", None
    for what, attr in (("room", "conference_room"), ("menu", "ivr_menu"), ("agi", "agi_application")):
        target = getattr(code, attr, None)
        if target is not None and target.enabled:
            return what, target
    return None, None


async def unavailable(ctx: CallContext, site: str = "") -> None:
    """"Service unavailable" (the site's uploaded announcement when there is one), then hang up."""
    media = UNAVAILABLE_SOUND
    try:
        from media import sounds

        announcement = await ctx.db(sounds.site_announcement, site or ctx.node.site, Purpose.SERVICE_UNAVAILABLE)
        if announcement is not None:
            media = sounds.media_uri(announcement)
    except (ImportError, AttributeError, DatabaseError) as exc:  # the stock sound, whatever happened
        log.warning("%s: no site announcement (%s); the stock one", ctx, exc)
    await ctx.play(media)
    await ctx.hangup()


async def code_call(ctx: CallContext) -> None:
    dialled = ctx.args[1] if len(ctx.args) > 1 else ctx.exten
    site = (ctx.args[2] if len(ctx.args) > 2 else "") or ctx.node.site
    lookup = asyncio.ensure_future(ctx.db(resolve, dialled))  # (in a thread while the answer goes out)
    try:
        await ctx.answer()
    except BaseException:
        lookup.cancel()
        raise
    try:
        code = await lookup
    except DatabaseError as exc:  # the database away a moment: the caller hears why, not silence
        log.error("%s: cannot read code %r: %s", ctx, dialled, exc)
        code = None
    what, target = _target(code)
    if what == "menu":
        from . import menus

        await menus.run(ctx, target)
    elif what == "rooms":
        from . import rooms

        await rooms.ask_room(ctx, site)
    elif what == "room":
        from . import rooms

        await rooms.join(ctx, target, site)
    elif what == "agi":
        from . import agi

        await agi.run(ctx, target)
    else:
        log.info("%s: code %r reaches nothing enabled", ctx, dialled)
        await unavailable(ctx, site)


async def _guarded(ctx: CallContext) -> None:
    try:
        await code_call(ctx)
    except ImportError as exc:  # a kind whose module is not deployed yet
        log.error("%s: %s", ctx, exc)
        try:
            await unavailable(ctx)
        except CallEnded:
            pass


register("code", _guarded)
