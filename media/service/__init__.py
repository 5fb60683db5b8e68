"""The media application service: ``manage.py run_media_apps`` runs rooms, menus and AGI hand-offs over ARI.

Pieces: ``ari`` (REST + event WebSocket of one node), ``calls`` (CallContext, the handler registry, taking a
call over), ``runner`` (one NodeLink per enabled node, claims, heartbeat), ``state`` (the rows it keeps),
``codes`` (the ``code`` kind), ``menus``; rooms, AGI and announcements register their kinds the same way.

Transport: one WebSocket per node carries the events and, both ways, the service's requests (ARI's REST over
WebSocket, Asterisk 20.14 / 22.4+): a burst of calls costs no HTTP connection per request; HTTP (httpx) is used
only while the socket is down.

How a call arrives: a service code of kind ``application``/``rooms`` is ``Goto(va-app,${EXTEN},1)`` in the
site's realtime dialplan; the node's static ``[va-app]`` runs ``StasisBroadcast`` with the arguments
``code:<code>:<caller's site>``; the node sends a ``CallBroadcast`` event to every ARI application whose name
matches ``^voipadmin[.]`` (one per running instance) and hands the channel to the first that claims it
(``POST /ari/events/claim``), which then gets ``StasisStart`` and runs the handler.

Several instances (any hosts, any number): each registers its own application ``voipadmin.<instance>`` on
every node, so each is offered every call. They share the calls by racing for them, weighted by load: an
instance waits 2 ms per call it holds before claiming (``runner.CLAIM_DELAY_PER_CALL``), so the least busy one
usually wins; there is no lease, lock or coordinator to fail. A node an instance cannot reach costs only that
pair (it reconnects with backoff, capped at 10 s); the node list is read again every few seconds.

When an instance dies (SIGKILL, host lost): its sockets drop, so the nodes stop offering it new calls at once
and the others get them all; no call is lost at set-up. The calls it was running stay in Stasis on their nodes
(a caller hears silence): once its heartbeat (``AppServiceInstance``, every 2 s) is 3 beats old, every live
instance asks each node for the dead application's channels and moves them into its own (``POST
/channels/{id}/move``; one move wins); a caller in a menu hears the menu again from the start, a room's member
stays in its bridge (handed to the rooms' ``adopt-bridged`` handler). An instance restarted under the same name
(``--instance``, as a service manager should run it) picks its own calls up the same way as it reconnects.

A clean stop (SIGTERM/SIGINT): the instance stops claiming (the others, or ``[va-app]``'s "service
unavailable" when none is left, take new calls), lets its calls leave for up to ``--grace`` seconds, then
hands those still with it (room members, slow callers) to the others by making its heartbeat stale, and exits.
With no instance running at all, ``[va-app]`` plays "service unavailable" after 1 s.
"""
