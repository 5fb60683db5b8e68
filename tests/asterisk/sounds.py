"""The prompts of nodeconf.prompts, generated once per machine with espeak-ng and sox (Debian packages),
as 8 kHz 16-bit mono WAV files, the format Asterisk's format_wav plays without transcoding."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from nodeconf.prompts import PROMPTS

from .harness import CACHE


def prompts_dir() -> Path:
    digest = hashlib.sha256(repr(sorted(PROMPTS.items())).encode()).hexdigest()[:12]
    target = CACHE / f"sounds-{digest}"
    if (target / ".complete").exists():
        return target
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not espeak or not sox:
        pytest.fail("generating Asterisk prompts needs espeak-ng and sox (apt-get install espeak-ng sox)",
                    pytrace=False)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="sounds-", dir=CACHE))
    for name, text in PROMPTS.items():
        out = tmp / f"{name}.wav"
        out.parent.mkdir(parents=True, exist_ok=True)
        raw = tmp / "raw.wav"
        if text:
            subprocess.run([espeak, "-v", "en", "-s", "240", "-w", str(raw), text], check=True, capture_output=True)
            subprocess.run([sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)], check=True,
                           capture_output=True)
        else:  # beeps and join/leave sounds: a short tone
            subprocess.run([sox, "-n", "-r", "8000", "-c", "1", "-b", "16", str(out), "synth", "0.2", "sine", "1000"],
                           check=True, capture_output=True)
    (tmp / "raw.wav").unlink(missing_ok=True)
    (tmp / ".complete").touch()
    try:
        tmp.rename(target)
    except OSError:  # another process got there first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def install_prompts(sounds: Path) -> None:
    """Copy the prompts into a node's sounds/en directory."""
    shutil.copytree(prompts_dir(), sounds, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete"))
