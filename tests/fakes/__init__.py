"""Protocol-faithful fakes of the systems voipadmin talks to.

Every reply shape comes from ``observed/`` (copies of
/work/shared/contracts/asterisk_observed: what a real Asterisk answered on loopback);
what the capture does not show is answered as Asterisk 22.10.1 does, and
tests/asterisk/test_conformance.py holds the AMI and ARI fakes to a real Asterisk with
the same assertions.  The fakes only ever bind 127.0.0.1.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OBSERVED = Path(__file__).parent / "observed"


def load_observed(name: str) -> Any:
    return json.loads((OBSERVED / name).read_text())
