"""RFC 2833 (telephone-event) DTMF as pcap files for sipp's ``play_pcap_audio``.

The pcaps shipped with sipp carry one fixed sequence number and timestamp per key, all from the same
SSRC: a key whose numbers are lower than the previous key's (0 after 8, 3 after 7) reaches Asterisk as
an old, reordered packet and is dropped. A call's keys are therefore generated here, in one running
sequence: each pcap continues the numbering where the previous one stopped.
"""
from __future__ import annotations

import struct
from pathlib import Path

EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}
PAYLOAD_TYPE = 101  # what the phones' SDP offers for telephone-event
SSRC = 0x5EC0_4D7F
PACKET_MS = 20
TONE_PACKETS = 7  # 140 ms of key press, then three end packets
GAP_MS = 120  # between two keys of one group


class DtmfSequence:
    """Numbering shared by every pcap of one call."""

    def __init__(self) -> None:
        self.seq = 1000
        self.ts = 16000

    def write(self, path: Path, keys: str) -> Path:
        packets: list[tuple[float, bytes]] = []
        clock = 0.0
        for key in keys:
            event = EVENTS[key.upper()]
            start_ts = self.ts
            for i in range(TONE_PACKETS + 3):
                end = i >= TONE_PACKETS
                duration = 160 * min(i + 1, TONE_PACKETS)
                marker = 0x80 if i == 0 else 0
                rtp = struct.pack("!BBHII", 0x80, marker | PAYLOAD_TYPE, self.seq & 0xFFFF, start_ts, SSRC)
                payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
                packets.append((clock, rtp + payload))
                self.seq += 1
                clock += PACKET_MS / 1000 if i < TONE_PACKETS else 0.005
            self.ts = start_ts + 160 * (TONE_PACKETS + 1) + 8 * GAP_MS
            clock += GAP_MS / 1000
        path.write_bytes(_pcap(packets))
        return path


def _pcap(packets: list[tuple[float, bytes]]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for when, rtp in packets:
        udp = struct.pack("!HHHH", 40000, 40002, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        sec = int(when)
        out.append(struct.pack("<IIII", 1_700_000_000 + sec, int((when - sec) * 1e6), len(frame), len(frame)) + frame)
    return b"".join(out)
