"""IVR menus over ARI: a prompt, one key, where the key goes.

``run(ctx, menu)`` is what the ``code`` handler calls for an application code that reaches a menu. Each menu
the caller enters is read from the database then (one thread hop: the menu with its prompt, options and
hours), so a change in the portal applies to the next call with no Asterisk reload.

* Open hours: a menu with :class:`~media.models.MenuHours` rows is open on those weekdays and times in its
  site's time zone; outside them the caller gets its after-hours menu (if it has one). ``clock`` is the
  time source (tests replace it; no test depends on the wall clock).
* Attempts: the prompt is played up to ``attempts`` times; a key with no option plays "vm-sorry" and counts
  as an attempt; after the last one the ``invalid`` (a wrong key last) or ``timeout`` (no key) option is
  taken, and with none of those the call is hung up. A key stops any prompt, and keys typed ahead are kept.
* Menus nest (option "another menu"); more than :data:`MAX_DEPTH` hops hangs up (a loop in the portal's
  menus must not hold a caller forever).
* While a caller is in a menu, a :class:`~media.models.MenuCall` row says so (the dashboard counts them);
  written beside the prompt, not before it, and removed when the caller leaves the menus.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from django.utils import timezone

from media.models import IvrMenu, MenuAction, MenuKey

from . import state
from .calls import CallContext

log = logging.getLogger("media.service")

MAX_DEPTH = 8
INVALID_SOUND = "sound:vm-sorry"
#: the time source for open hours (an aware datetime); tests assign their own
clock: Callable[[], datetime] = timezone.now


@dataclass
class Option:
    action: str
    value: str = ""
    target_menu: int | None = None
    service_code: str = ""
    room: Any = None
    agi: Any = None


@dataclass
class MenuPlan:
    """A menu as one call plays it (plain data: read in a worker thread, used in the event loop)."""

    pk: int
    name: str
    site: str
    prompt: str  # media for ctx.play, "" for none
    timeout: float
    attempts: int
    options: dict[str, Option] = field(default_factory=dict)
    after_hours_of: str = ""  # the menu whose closed hours sent the caller here


def is_open(hours: list[tuple[int, Any, Any]], now: datetime) -> bool:
    """Open at ``now`` (local time of the site): no hours at all, or one (weekday, opens, closes) holds it;
    a span that closes at or before it opens runs past midnight."""
    if not hours:
        return True
    day, moment = now.weekday(), now.time()
    for weekday, opens, closes in hours:
        if opens < closes:
            if weekday == day and opens <= moment < closes:
                return True
        elif opens > closes:  # e.g. 22:00-06:00: the evening of its day, the morning of the next
            if (weekday == day and moment >= opens) or ((weekday + 1) % 7 == day and moment < closes):
                return True
    return False


def _prompt_media(menu: IvrMenu) -> str:
    if menu.prompt_id:
        try:
            from media.sounds import media_uri

            return media_uri(menu.prompt)
        except ImportError:
            pass
    return f"sound:{menu.prompt_sound}" if menu.prompt_sound else ""


def load(menu_pk: int, now: datetime | None = None) -> MenuPlan | None:
    """The menu to play for ``menu_pk`` at ``now``: itself, or its after-hours menu when it is closed."""
    now = now or clock()
    seen: list[str] = []
    for _ in range(MAX_DEPTH):
        menu = (IvrMenu.objects.select_related("site", "prompt").defer("prompt__audio")
                .filter(pk=menu_pk, enabled=True).first())
        if menu is None:
            return None
        hours = list(menu.hours.values_list("weekday", "opens", "closes"))
        local = now.astimezone(ZoneInfo(menu.site.time_zone or "UTC"))
        if menu.after_hours_menu_id and not is_open(hours, local):
            seen.append(menu.name)
            menu_pk = menu.after_hours_menu_id
            continue
        options = {}
        for o in menu.options.select_related("room", "agi", "service_code"):
            options[o.key] = Option(action=o.action, value=o.value, target_menu=o.target_menu_id,
                                    service_code=o.service_code.code if o.service_code_id else "",
                                    room=o.room, agi=o.agi)
        return MenuPlan(pk=menu.pk, name=menu.name, site=menu.site.slug, prompt=_prompt_media(menu),
                        timeout=float(menu.timeout), attempts=max(1, menu.attempts), options=options,
                        after_hours_of=seen[0] if seen else "")
    return None


async def ask(ctx: CallContext, plan: MenuPlan) -> Option | None:
    """Prompt and wait for a key, ``attempts`` times; the option chosen, or None (nothing to do: hang up)."""
    missed = MenuKey.TIMEOUT
    for attempt in range(plan.attempts):
        if plan.prompt:
            await ctx.play(plan.prompt, barge_in=True)
        digit = await ctx.get_digit(plan.timeout)
        if digit is None:
            missed = MenuKey.TIMEOUT
            continue
        if digit in plan.options:
            return plan.options[digit]
        missed = MenuKey.INVALID
        log.debug("%s: key %r has no option in menu %s", ctx, digit, plan.name)
        if attempt + 1 < plan.attempts:
            await ctx.play(INVALID_SOUND, barge_in=True)
    return plan.options.get(missed)


async def run(ctx: CallContext, menu: IvrMenu | int) -> None:
    """Play ``menu`` (and the menus it leads to) to the caller until a destination takes the call."""
    menu_pk = menu if isinstance(menu, int) else menu.pk
    caller_site = (ctx.args[2] if len(ctx.args) > 2 else "") or ctx.node.site
    recorded, writing = None, None
    try:
        for _ in range(MAX_DEPTH + 1):
            plan = await ctx.db(load, menu_pk)
            if plan is None:
                log.info("%s: menu %s is gone or disabled", ctx, menu_pk)
                from .codes import unavailable

                await unavailable(ctx, caller_site)
                return
            if plan.pk != recorded:  # beside the prompt, not in its way
                recorded, previous = plan.pk, writing
                writing = asyncio.ensure_future(_record(ctx, plan.pk, previous))
            option = await ask(ctx, plan)
            log.debug("%s: menu %s -> %s", ctx, plan.name, option)
            if option is None or option.action == MenuAction.HANGUP:
                await ctx.hangup()
                return
            if option.action == MenuAction.REPEAT:
                continue
            if option.action == MenuAction.MENU and option.target_menu:
                menu_pk = option.target_menu
                continue
            await take(ctx, plan, option, caller_site)
            return
        log.warning("%s: menus nested deeper than %d; hanging up", ctx, MAX_DEPTH)
        await ctx.hangup()
    finally:
        if writing is not None:
            await _record(ctx, None, writing)


async def _record(ctx: CallContext, menu_pk: int | None, previous: asyncio.Future | None) -> None:
    """The call's MenuCall row says ``menu_pk`` (None: gone), after the previous write (in order)."""
    if previous is not None:
        await asyncio.gather(previous, return_exceptions=True)
    try:
        if menu_pk is None:
            await ctx.db(state.leave_menu, ctx.channel_id)
        else:
            await ctx.db(state.enter_menu, ctx.channel_id, ctx.node.pk, menu_pk, ctx.caller, ctx.instance)
    except Exception:  # noqa: BLE001 - the dashboard's count, never the caller's call
        log.exception("%s: could not record the menu", ctx)


async def take(ctx: CallContext, plan: MenuPlan, option: Option, caller_site: str) -> None:
    """Send the call where ``option`` says (out of the menus)."""
    action = option.action
    if action in (MenuAction.EXTENSION, MenuAction.NUMBER) and option.value:
        await ctx.continue_in("va-ring", option.value)
    elif action == MenuAction.VOICEMAIL and option.value:
        await ctx.continue_in("va-app-voicemail", option.value, variables={"VA_VM_SITE": plan.site})
    elif action == MenuAction.SERVICE_CODE and option.service_code:
        await ctx.continue_in(f"site-{caller_site}", option.service_code)
    elif action == MenuAction.ROOM and option.room is not None:
        from . import rooms

        await rooms.join(ctx, option.room, caller_site)
    elif action == MenuAction.AGI and option.agi is not None:
        from . import agi

        await agi.run(ctx, option.agi)
    else:
        log.warning("%s: option %s of menu %s is incomplete; hanging up", ctx, option, plan.name)
        await ctx.hangup()
