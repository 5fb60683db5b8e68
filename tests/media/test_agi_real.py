"""External AGI applications on the real estate (real Kamailio, real Asterisks, sipp callers) with a FastAGI
server of the test's own (panoramisk's ``fast_agi``) on a loopback port.

One test, three calls (the suite's time is short): the legacy tagging (a Kamailio of the estate's sends the call
with X-AGI-* headers straight to a node) reaches the server with the headers' app id, or, when nobody listens
at the tagged address, ends with 503; a phone dials the
service code of an application whose first server is a loopback port nobody listens on, through Kamailio and
the application service (helper fixture ``media_service``): its second server gets the call with the app id,
the node's log names the failover, and the X-AGI-* headers the phone added never reached the node.
"""
from __future__ import annotations

import asyncio
import threading

import pytest
from panoramisk import fast_agi

from media import actions as media_actions
from services import actions as service_actions

from tests.asterisk.harness import free_port
from tests.asterisk.helpers import ACTOR, make_phone
from tests.sip import Carrier

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

HOST = "127.0.0.1"


class FastAgiServer:
    """panoramisk's FastAGI server in a thread of its own: each request's headers are kept in ``requests``; the
    call is answered and held (``hold_s``) so the caller, not the dialplan, ends it."""

    def __init__(self, routes: list[str], *, hold_s: int = 5):
        self.port = free_port(HOST, udp=False)
        self.routes, self.hold_s = routes, hold_s
        self.requests: list[dict[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _handle(self, request) -> None:
        self.requests.append(dict(request.headers))
        await request.send_command("ANSWER")
        await request.send_command(f"EXEC Wait {self.hold_s}")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = fast_agi.Application(loop=self._loop)
        for route in self.routes:  # (panoramisk matches agi_network_script whole, query included)
            app.add_route(route, self._handle)
        self._server = self._loop.run_until_complete(asyncio.start_server(app.handler, HOST, self.port))
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> "FastAgiServer":
        self._thread.start()
        assert self._ready.wait(5), "the FastAGI server did not start"
        return self

    def __exit__(self, *exc) -> None:
        def stop():
            self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(5)


def test_agi_applications_reach_their_server_with_the_app_id_and_fail_over(media_service):
    estate = media_service.estate
    nodes = list(estate.asterisks.values())
    plan = estate.plan.node("central")
    dead = free_port(HOST, udp=False)  # nobody listens there
    routes = ["crm?appid=legacy-7&apptype=crm", "calls/route?appid=sales-42&apptype=crm",
              "crm?appid=phone-1&apptype=crm"]  # (the last: what the phone's own headers would ask for)
    with FastAgiServer(routes) as server:
        # 1. the legacy tagging: a Kamailio of the estate (its address: the node's kamailio-1 endpoint) sends the
        #    call with X-AGI-* headers; the node hands it to that server, the dialled number as the extension
        legacy = Carrier(estate.kamailio.sip_ip).call(plan.host, plan.sip_port, "5555", hold_ms=800,
                                                      headers=agi_headers(server.port, "legacy-7"))
        assert legacy.ok, legacy.output + nodes[0].log_tail()
        [request] = server.requests
        assert request["agi_network_script"] == "crm?appid=legacy-7&apptype=crm"
        assert request["agi_request"] == f"agi://{HOST}:{server.port}/crm?appid=legacy-7&apptype=crm"
        assert (request["agi_arg_1"], request["agi_arg_2"], request["agi_extension"]) == ("legacy-7", "crm", "5555")
        # ... and with nobody at the tagged address, the caller hears 503 (nothing answered the call)
        refused = Carrier(estate.kamailio.sip_ip).call(plan.host, plan.sip_port, "5556",
                                                       headers=agi_headers(dead, "legacy-8"))
        assert refused.status == 503, refused.output

        # 2. the portal's application behind a service code: its first server refuses the connection, the second
        #    gets the call. The phone's own X-AGI-* headers never reach a node (Kamailio strips them).
        media_actions.create_agi_application(
            actor=ACTOR, name="Sales", app_type="crm", app_id="sales-42", script="calls/route",
            service_code=service_actions.create_service_code(
                actor=ACTOR, code="*771", name="Sales", kind="application", route_to="set",
                dispatcher_set=estate.media),
            servers=[{"host": HOST, "port": dead}, {"host": HOST, "port": server.port}])
        phone = make_phone(estate, 1010, "Sales caller", "central")
        result = phone.call(estate.kamailio, "*771", hold_ms=1000, headers=agi_headers(server.port, "phone-1"))
        assert result.ok, result.output + media_service.log_tail()
        assert [r["agi_network_script"] for r in server.requests] == routes[:2]
        assert (server.requests[1]["agi_arg_1"], server.requests[1]["agi_extension"]) == ("sales-42", "s")
    logs = "".join(node.messages_log.read_text(errors="replace") for node in nodes)
    assert f"AGI application sales-42: server 1 of 2 unreachable (agi://{HOST}:{dead}/calls/route?" in logs
    assert "AGI application legacy-8: no server could be reached (1 tried)" in logs


def agi_headers(port: int, app_id: str) -> tuple[str, ...]:
    return (f"X-AGI-Host: {HOST}", f"X-AGI-Port: {port}", "X-AGI-AppType: crm", f"X-AGI-AppID: {app_id}")
