"""Conference rooms over ARI: one mixing bridge per room, on one node, whichever node each caller reached.

A room's **home** is the node whose ARI bridge holds it: its :class:`~media.models.ActiveRoom` row (one per
room: the database's unique key decides, whatever instance and node two first callers arrive on at the same
moment). A caller on the home node joins the bridge there; a caller on any other node is **relayed**: the
channel continues into the static ``[va-app-relay]`` context, which dials the room through Kamailio with
``X-VA-Node: <home host:port>`` and ``X-VA-App: room=<pk>``; Kamailio sends it to that node (only a node of the
estate), whose ``[from-kamailio]`` hands it back to the service as ``relay,<pk>,<caller site>``. So the PIN is
asked, the room's size checked and the caller bridged on the home node only.

``members`` counts the callers the room holds (keying its PIN, or in the bridge), changed under the row's lock:
a place is taken before the PIN is asked, so two first callers settle the home before either hears a prompt, and
the one who takes the count back to 0 deletes the row and destroys the bridge. A member whose instance died is
taken over by another (``adopt-bridged``) and still gives its place back. Rows outlive a restarted node;
:func:`reconcile` (when an instance connects to a node, else at a node's first room call and then every minute)
drops the rows whose bridge is gone and recounts those no live instance follows.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from media.models import ActiveRoom, AppServiceInstance, ConferenceProfile, ConferenceRoom
from sites.models import AsteriskNode

from . import calls
from .ari import AriError, AriRest
from .calls import CallContext, CallEnded, register

__all__ = ["ask_room", "join", "relay_call", "adopt_member", "reconcile", "Profile", "resolve_profile"]

log = logging.getLogger("media.service")

#: the static dialplan context that dials the home node through Kamailio (deploy/asterisk/templates/extensions.conf)
RELAY_CONTEXT = "va-app-relay"
PIN_TRIES = 3
ROOM_TRIES = 3
KEY_TIMEOUT = 5.0
#: a row younger than this may be waiting for its first caller's bridge: not stale yet
STALE_AFTER = timedelta(seconds=10)
#: an instance whose heartbeat is older than this follows no room any more
INSTANCE_DEAD_AFTER = timedelta(seconds=10)
#: the ids of the rooms' bridges start with this (other bridges on a node are none of ours)
BRIDGE_PREFIX = "va-room-"
#: the channels ARI puts in a bridge to play to it or record it: not members
MEDIA_CHANNELS = ("Announcer/", "Recorder/")
#: how often (at most) a node's rows are reconciled when the runtime has no connect hook, in seconds
RECONCILE_EVERY = 60.0
#: asking the home node whether the room's bridge is still there, before relaying a caller to it
HOME_CHECK_TIMEOUT = 1.0


@dataclass(frozen=True)
class Profile:
    """How a room behaves for this call (:func:`resolve_profile`)."""

    max_members: int = 20
    announce_join_leave: bool = False
    announce_only_member: bool = True
    record: bool = False
    join_announcement_pk: int | None = None


#: a room whose site has no default profile, and that has none of its own
DEFAULT_PROFILE = Profile()


@dataclass(frozen=True)
class Room:
    """A room as the call sees it, read when the call arrives (a change in the portal applies to the next call)."""

    pk: int
    site: str
    number: str
    pin: str
    enabled: bool
    profile: Profile

    @property
    def bridge_name(self) -> str:
        return f"room-{self.site}-{self.number}"


@dataclass(frozen=True)
class Home:
    node_pk: int
    bridge_id: str
    node_address: str  # host:port, what [va-app-relay] puts in X-VA-Node
    started: datetime


@dataclass(frozen=True)
class Admission:
    """What the home node decides for a caller: ``joined`` (``first``: the bridge is new), ``relay``, ``full``."""

    outcome: str
    bridge_id: str = ""
    first: bool = False
    home: Home | None = None


# --- the database side (sync, run through ctx.db) ---------------------------------------------------------------


def _profile_of(profile: ConferenceProfile | None) -> Profile:
    if profile is None:
        return DEFAULT_PROFILE
    return Profile(max_members=profile.max_members, announce_join_leave=profile.announce_join_leave,
                   announce_only_member=profile.announce_only_member, record=profile.record,
                   join_announcement_pk=profile.join_announcement_id)


def resolve_profile(room: ConferenceRoom) -> Profile:
    """The room's own profile, else its site's default profile, else the built-in defaults."""
    profile = room.profile
    if profile is None:
        try:
            profile = room.site.default_conference_profile
        except ConferenceProfile.DoesNotExist:
            profile = None
    return _profile_of(profile)


def _rooms():
    return ConferenceRoom.objects.select_related("site", "profile", "site__default_conference_profile")


def _as_room(room: ConferenceRoom | None) -> Room | None:
    if room is None:
        return None
    return Room(pk=room.pk, site=room.site.slug, number=room.number, pin=room.pin, enabled=room.enabled,
                profile=resolve_profile(room))


def load_room(pk: int) -> Room | None:
    """The room with its profile resolved (one query)."""
    return _as_room(_rooms().filter(pk=pk).first())


def find_room(site_slug: str, number: str) -> Room | None:
    """A site's enabled room by the number a caller keyed (the same number on another site is another room)."""
    return _as_room(_rooms().filter(site__slug=site_slug, number=number, enabled=True).first())


def _home(row: ActiveRoom) -> Home:
    return Home(node_pk=row.node_id, bridge_id=row.bridge_id, node_address=f"{row.node.host}:{row.node.sip_port}",
                started=row.started)


def home_of(room_pk: int) -> Home | None:
    row = ActiveRoom.objects.select_related("node").filter(room_id=room_pk).first()
    return _home(row) if row else None


def admit(room_pk: int, node_pk: int, instance: str, max_members: int, *, now: datetime | None = None) -> Admission:
    """Take a place in the room on ``node_pk``, atomically: the first caller anywhere makes this node the room's
    home (a new row; two at once: the unique room key lets one win, the other reads the winner's row); a caller
    on another node than the home is to be relayed; a full room refuses."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                row = ActiveRoom.objects.select_for_update().select_related("node").filter(room_id=room_pk).first()
                if row is None:
                    row = ActiveRoom.objects.create(room_id=room_pk, node_id=node_pk, members=1, instance=instance,
                                                    bridge_id=f"{BRIDGE_PREFIX}{uuid.uuid4()}",
                                                    started=now or timezone.now())
                    return Admission("joined", row.bridge_id, first=True)
                if row.node_id != node_pk:
                    return Admission("relay", home=_home(row))
                if row.members >= max_members:
                    return Admission("full", row.bridge_id)
                row.members += 1
                row.instance = instance  # the room is followed by the instance that last took a caller in
                row.save(update_fields=["members", "instance"])
                return Admission("joined", row.bridge_id)
        except IntegrityError:  # another node's first caller created the row between our read and our insert
            continue
    raise RuntimeError(f"room {room_pk}: could not settle its home node")


def release(room_pk: int, bridge_id: str) -> bool:
    """A member left; True when it was the last (the row is gone, the caller destroys the bridge)."""
    with transaction.atomic():
        row = ActiveRoom.objects.select_for_update().filter(room_id=room_pk, bridge_id=bridge_id).first()
        if row is None:
            return False
        if row.members <= 1:
            row.delete()
            return True
        row.members -= 1
        row.save(update_fields=["members"])
        return False


def forget(room_pk: int, bridge_id: str) -> int:
    """Drop the row of a bridge that no longer exists (only that bridge's: a new home may have been taken since)."""
    return ActiveRoom.objects.filter(room_id=room_pk, bridge_id=bridge_id).delete()[0]


def node_ari(node_pk: int) -> tuple[str, str, str] | None:
    node = AsteriskNode.objects.filter(pk=node_pk, enabled=True).exclude(ari_url="").first()
    return (node.ari_url, node.ari_username, node.ari_password) if node else None


def node_followed(node_pk: int, *, now: datetime | None = None) -> bool:
    """Does a live service instance hold an event socket to the node (its heartbeat says so)?"""
    now = now or timezone.now()
    name = AsteriskNode.objects.filter(pk=node_pk).values_list("name", flat=True).first()
    return any(name in (nodes or []) for nodes in AppServiceInstance.objects.filter(
        heartbeat__gte=now - INSTANCE_DEAD_AFTER).values_list("connected_nodes", flat=True))


def rows_to_reconcile(node_pk: int, bridges: dict[str, int], *, now: datetime | None = None) -> list[str]:
    """Given the node's bridges (id → channels in it), drop the rows whose bridge is gone (older than
    STALE_AFTER: a new row's bridge may be on its way) and recount the rows no live instance follows (their
    instance stopped or was killed: nobody will count their leaves). Returns the bridges to destroy: empty
    ones whose row went."""
    now = now or timezone.now()
    alive = set(AppServiceInstance.objects.filter(heartbeat__gte=now - INSTANCE_DEAD_AFTER)
                .values_list("name", flat=True))
    destroy = []
    for row in ActiveRoom.objects.filter(node_id=node_pk):
        if row.bridge_id not in bridges:
            if now - row.started > STALE_AFTER:
                log.info("room %s: bridge %s is gone from its node; row removed", row.room_id, row.bridge_id)
                forget(row.room_id, row.bridge_id)
            continue
        if row.instance in alive:
            continue
        count = bridges[row.bridge_id]
        if count == 0:
            forget(row.room_id, row.bridge_id)
            destroy.append(row.bridge_id)
        elif count != row.members:
            ActiveRoom.objects.filter(pk=row.pk).update(members=count)
    return destroy


# --- the call side ------------------------------------------------------------------------------------------------


async def reconcile(node, rest: AriRest) -> None:
    """A service instance connected to ``node``: tidy the rows of rooms it is home to (see rows_to_reconcile)."""
    bridges, channels = await asyncio.gather(rest.get("/bridges"), rest.get("/channels"))
    callers = {c.get("id") for c in channels or [] if not str(c.get("name", "")).startswith(MEDIA_CHANNELS)}
    bridges = {b["id"]: len(set(b.get("channels") or []) & callers) for b in bridges or []
               if str(b.get("id", "")).startswith(BRIDGE_PREFIX)}
    for bridge_id in await _db(rows_to_reconcile, node.pk, bridges):
        await _quietly(rest.delete(f"/bridges/{bridge_id}"))


async def _db(fn, *args):
    """ctx.db for the work no call owns (reconciling a node)."""
    def run():
        close_old_connections()
        return fn(*args)

    return await asyncio.to_thread(run)


async def _quietly(awaitable) -> None:
    try:
        await awaitable
    except AriError as exc:
        log.debug("ignored: %s", exc.reason)


async def home_is_alive(home: Home) -> bool:
    """Is the room's bridge still on its home node? No (bridge gone, node disabled or unreachable): its row is
    stale and this caller's node may take the room over."""
    ari = await _db(node_ari, home.node_pk)
    if ari is None:
        return False
    rest = AriRest(*ari, timeout=HOME_CHECK_TIMEOUT)
    try:
        await rest.get(f"/bridges/{home.bridge_id}")
        return True
    except AriError as exc:
        if exc.status == 404 and timezone.now() - home.started < STALE_AFTER:
            return True  # its first caller is still creating it
        if exc.status is None and await _db(node_followed, home.node_pk):
            return True  # a slow answer from a node the service still hears: no second home for a blip
        log.info("room home %s: bridge %s unreachable (%s)", home.node_address, home.bridge_id, exc.reason)
        return False
    finally:
        await rest.aclose()


async def ask_room(ctx: CallContext, site_slug: str) -> None:
    """A "conference rooms" code: ask for the room number (the caller's site's rooms), then join it."""
    await ctx.answer()
    for _try in range(ROOM_TRIES):
        await ctx.play("sound:conf-getconfno", barge_in=True)
        number = await ctx.get_digits(10, KEY_TIMEOUT)
        room = await ctx.db(find_room, site_slug, number) if number else None
        if room is not None:
            await join(ctx, room, site_slug)
            return
        await ctx.play("sound:conf-invalid")
    await ctx.hangup()


async def relay_call(ctx: CallContext) -> None:
    """``relay,<room pk>,<caller site>``: a caller another node relayed here, the room's home."""
    try:
        pk = int(ctx.args[1])
    except (IndexError, ValueError):
        log.warning("%s: relay without a room", ctx)
        await ctx.hangup()
        return
    site = ctx.args[2] if len(ctx.args) > 2 else ""
    await join(ctx, pk, site or ctx.node.site, relayed=True)


async def _relay(ctx: CallContext, room: Room, home: Home, caller_site: str) -> None:
    log.info("%s: room %s is on %s, relaying", ctx, room.pk, home.node_address)
    await ctx.continue_in(RELAY_CONTEXT, room.number, variables={
        "VA_RELAY_NODE": home.node_address, "VA_RELAY_APP": f"room={room.pk}", "VA_CALLER_SITE": caller_site})


async def _pin_ok(ctx: CallContext, pin: str) -> bool:
    for _try in range(PIN_TRIES):
        await ctx.play("sound:conf-getpin", barge_in=True)
        keys = await ctx.get_digits(len(pin) + 4, KEY_TIMEOUT)
        if keys == pin:
            return True
        log.info("%s: PIN try %d of %d failed (%d keys)", ctx, _try + 1, PIN_TRIES, len(keys))
        await ctx.play("sound:conf-invalidpin")
    return False


async def join(ctx: CallContext, room: ConferenceRoom | Room | int, caller_site: str, *, relayed: bool = False) -> None:
    """Bring the caller into ``room``: relayed to its home node when another node holds it; here, a place taken
    first (so two first callers on two nodes agree on one home before either is asked anything), then the PIN,
    the announcements and the bridge. Returns when the caller has left (or was refused, or relayed)."""
    from .codes import unavailable

    pk = room if isinstance(room, int) else room.pk
    if not hasattr(calls, "on_connect"):
        await _reconcile_now_and_then(ctx)
    room = await ctx.db(load_room, pk)  # the profile and PIN as they are now
    if room is None or not room.enabled:
        log.info("%s: room %s is missing or disabled", ctx, pk)
        await unavailable(ctx, caller_site)
        return
    home = await ctx.db(home_of, room.pk)
    if home is not None and home.node_pk != ctx.node.pk and not relayed:
        if await home_is_alive(home):
            await _relay(ctx, room, home, caller_site)
            return
        await ctx.db(forget, room.pk, home.bridge_id)
    admission = await ctx.db(admit, room.pk, ctx.node.pk, ctx.instance, room.profile.max_members)
    if admission.outcome == "relay" and not relayed:  # another node's first caller took the room meanwhile
        await _relay(ctx, room, admission.home, caller_site)
        return
    await ctx.answer()
    if admission.outcome != "joined":  # full (or a relayed caller the room moved away from: never relayed twice)
        log.info("%s: room %s refused the caller (%s)", ctx, room.pk, admission.outcome)
        await ctx.play("sound:conf-locked")
        await ctx.hangup()
        return
    await _hold_place(ctx, room, admission)


async def _hold_place(ctx: CallContext, room: Room, admission: Admission) -> None:
    """The caller's place in the room, from admission to leaving (given back on every way out but a stopping
    service's: then the caller stays in the bridge and reconcile() recounts the room)."""
    bridge_id = admission.bridge_id
    stopping = False
    try:
        await _ensure_bridge(ctx, room, bridge_id, admission.first)
        if room.pin and not await _pin_ok(ctx, room.pin):
            log.info("%s: wrong PIN for room %s", ctx, room.pk)
            await ctx.hangup()
            return
        if room.profile.join_announcement_pk:
            await _play_announcement(ctx, room.profile.join_announcement_pk)
        bridge = await ctx.ari.get(f"/bridges/{bridge_id}")
        alone = len(bridge.get("channels") or []) <= (1 if room.profile.record else 0)
        if alone and room.profile.announce_only_member:
            await ctx.play("sound:conf-onlyperson")
        elif room.profile.announce_join_leave:
            await _quietly(ctx.ari.post(f"/bridges/{bridge_id}/play", media=_caller_media(ctx, "conf-hasjoin")))
        await ctx.ari.post(f"/bridges/{bridge_id}/addChannel", channel=ctx.channel_id)
        log.info("%s: in room %s (bridge %s)", ctx, room.pk, bridge_id)
        await ctx.hung_up.wait()
    except CallEnded:
        pass
    except asyncio.CancelledError:
        stopping = True
        raise
    finally:
        if not stopping:
            await _leave(ctx, room, bridge_id)


async def _play_announcement(ctx: CallContext, announcement_pk: int) -> None:
    from media import sounds
    from media.models import Announcement

    announcement = await ctx.db(lambda: Announcement.objects.defer("audio").filter(pk=announcement_pk).first())
    if announcement is not None:
        await ctx.play(sounds.media_uri(announcement))


async def _ensure_bridge(ctx: CallContext, room: Room, bridge_id: str, first: bool) -> None:
    """The room's bridge on this node: created by its first member; a later member recreates it only if the
    node lost it (a restart). Two creating it at once do no harm: the second is refused (409 in Asterisk 22,
    500 in older ones) and finds it there."""
    if not first:
        try:
            await ctx.ari.get(f"/bridges/{bridge_id}")
            return
        except AriError as exc:
            if exc.status != 404:
                raise
    try:
        await ctx.ari.post(f"/bridges/{bridge_id}", type="mixing", name=room.bridge_name)
    except AriError as exc:
        if exc.status is None:  # the node did not answer
            raise
        await ctx.ari.get(f"/bridges/{bridge_id}")  # created by another member meanwhile
    if first and room.profile.record:
        await _record(ctx, room, bridge_id)


def recording_name(room: Room, at: datetime) -> str:
    """The recording's file name in the node's recordings directory: by room and start time (UTC)."""
    return f"room-{room.site}-{room.number}-{at.astimezone(dt_timezone.utc):%Y%m%d-%H%M%S}"


async def _record(ctx: CallContext, room: Room, bridge_id: str) -> None:
    name = recording_name(room, timezone.now())
    try:
        await ctx.ari.post(f"/bridges/{bridge_id}/record", name=name, format="wav", ifExists="overwrite")
        log.info("room %s: recording %s on %s", room.pk, name, ctx.node.name)
    except AriError as exc:  # a room without its recording is still a room
        log.error("room %s: recording not started: %s", room.pk, exc.reason)


def _caller_media(ctx: CallContext, sound: str) -> str:
    """"<the caller's number> has joined / left" for the whole bridge."""
    number = ctx.caller
    return ",".join(([f"digits:{number}"] if number.isdigit() else []) + [f"sound:{sound}"])


async def _leave(ctx: CallContext, room: Room, bridge_id: str) -> None:
    if await ctx.db(release, room.pk, bridge_id):
        await _quietly(ctx.ari.delete(f"/bridges/{bridge_id}"))
        log.info("room %s: last member left, bridge %s destroyed", room.pk, bridge_id)
    elif room.profile.announce_join_leave:
        await _quietly(ctx.ari.post(f"/bridges/{bridge_id}/play", media=_caller_media(ctx, "conf-hasleft")))


def room_of_bridge(bridge_id: str, instance: str) -> int | None:
    """The room whose bridge this is; the instance that now follows its members is ``instance``."""
    row = ActiveRoom.objects.filter(bridge_id=bridge_id).first()
    if row is None:
        return None
    ActiveRoom.objects.filter(pk=row.pk).update(instance=instance)
    return row.room_id


async def adopt_member(ctx: CallContext) -> None:
    """A room member taken over from an instance that died: it stays in its bridge, and this instance gives its
    place back when it leaves (the room's count stays right, the last one out still destroys the bridge)."""
    bridges = await ctx.ari.get("/bridges") or []
    bridge_id = next((b["id"] for b in bridges if ctx.channel_id in (b.get("channels") or [])
                      and str(b.get("id", "")).startswith(BRIDGE_PREFIX)), None)
    room_pk = await ctx.db(room_of_bridge, bridge_id, ctx.instance) if bridge_id else None
    room = await ctx.db(load_room, room_pk) if room_pk else None
    if room is None:
        log.warning("%s: taken over in a bridge that is no room's (%s)", ctx, bridge_id)
        return
    log.info("%s: taken over in room %s (bridge %s)", ctx, room.pk, bridge_id)
    await ctx.hung_up.wait()  # (cancelled: the service stops, the place stays taken for the next taker)
    await _leave(ctx, room, bridge_id)


async def _reconcile_now_and_then(ctx: CallContext) -> None:
    """Without a connect hook in the runtime, a node's rows are reconciled at its first room call and then at
    most every RECONCILE_EVERY seconds (awaited: a row this call may use is settled before it reads it)."""
    now = time.monotonic()
    if now - _reconciled.get(ctx.node.pk, -RECONCILE_EVERY) < RECONCILE_EVERY:
        return
    _reconciled[ctx.node.pk] = now
    rest = getattr(getattr(ctx, "link", None), "rest", None)
    if rest is None:
        return
    try:
        await reconcile(ctx.node, rest)
    except AriError as exc:
        log.warning("%s: rooms not reconciled: %s", ctx.node.name, exc.reason)


_reconciled: dict[int, float] = {}


register("relay", relay_call)
register("adopt-bridged", adopt_member)
if hasattr(calls, "on_connect"):
    calls.on_connect(reconcile)
