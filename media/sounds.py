"""Announcements ("locuciones"): an upload checked and converted to what Asterisk plays, and where a node gets it.

Conversion needs no external program (the standard library's ``audioop``, in C: 100 s of 44.1 kHz stereo take
0.6 s): any PCM WAV (8/16/24/32-bit, mono or stereo, any rate) becomes WAV 8 kHz mono 16-bit, Asterisk's
native ``slin`` (no transcoding on playback). ``audioop`` is deprecated in Python 3.11 and gone in 3.13; the
``audioop-lts`` package installs the same module there. When ``sox`` is on PATH, MP3/OGG/FLAC uploads go
through it first; the WAV path never needs it.

A node fetches an announcement over HTTP from the portal (res_http_media_cache) at an immutable URL: the
content hash is in it, so a new upload is a new URL and a node's cache never serves stale audio, and an HMAC
of it with SECRET_KEY makes it unguessable (the view needs no login: Asterisk fetches it).
"""
from __future__ import annotations

import hashlib
import hmac
import io
import shutil
import struct
import subprocess
import warnings
import wave

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from .models import SiteAnnouncement

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_DURATION_MS = 10 * 60 * 1000
RATE = 8000  # what Asterisk plays natively (slin): 8 kHz, mono, 16-bit

_PCM, _EXTENSIBLE = 0x0001, 0xFFFE
_FORMAT_NAMES = {0x0002: "MS ADPCM", 0x0003: gettext_lazy("32-bit floating point"), 0x0006: "A-law", 0x0007: "µ-law",
                 0x0011: "IMA ADPCM", 0x0031: "GSM 6.10", 0x0055: "MP3"}
# other containers sox can read, by their first bytes
_SOX_TYPES = ((b"ID3", "mp3"), (b"\xff\xfb", "mp3"), (b"\xff\xf3", "mp3"), (b"\xff\xf2", "mp3"),
              (b"OggS", "ogg"), (b"fLaC", "flac"))


def convert(uploaded) -> tuple[bytes, int]:
    """An upload (a Django UploadedFile, a file object or bytes) → (WAV 8 kHz mono 16-bit, duration in ms).

    Raises ValidationError with a message the uploader can act on; nothing is written anywhere.
    """
    data = _read(uploaded)
    if not data:
        raise ValidationError(_("The file is empty."), code="empty")
    if not (data[:4] == b"RIFF" and data[8:12] == b"WAVE"):
        data = _through_sox(data)
    channels, rate, width, pcm = _parse_wav(data)
    frames = len(pcm) // (channels * width)
    if frames == 0:
        raise ValidationError(_("The file holds no sound (no samples)."), code="empty")
    if frames * 1000 // rate > MAX_DURATION_MS:
        raise ValidationError(_("The sound lasts %(seconds)d s; an announcement lasts at most %(max)d minutes.")
                              % {"seconds": frames // rate, "max": MAX_DURATION_MS // 60000}, code="too_long")
    samples = _to_mono_16bit_8k(pcm[:frames * channels * width], channels, rate, width)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples)
    return out.getvalue(), (len(samples) // 2) * 1000 // RATE


def _read(uploaded) -> bytes:
    if isinstance(uploaded, (bytes, bytearray, memoryview)):
        data = bytes(uploaded)
    else:
        size = getattr(uploaded, "size", None)
        if size is not None and size > MAX_UPLOAD_BYTES:
            raise _too_big()
        if hasattr(uploaded, "seek"):
            uploaded.seek(0)
        data = uploaded.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise _too_big()
    return data


def _too_big() -> ValidationError:
    return ValidationError(_("The file is larger than %(mb)d MB.") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)},
                           code="too_big")


def _not_audio() -> ValidationError:
    return ValidationError(_("This is not a sound file Asterisk can use: upload a WAV file (PCM)."),
                           code="not_audio")


def _through_sox(data: bytes) -> bytes:
    """MP3 / OGG / FLAC → WAV when sox is installed; anything else is not audio to us."""
    kind = next((t for magic, t in _SOX_TYPES if data.startswith(magic)), None)
    sox = shutil.which("sox")
    if kind is None or sox is None:
        raise _not_audio()
    try:
        done = subprocess.run([sox, "-q", "-t", kind, "-", "-t", "wav", "-e", "signed-integer", "-b", "16", "-"],
                              input=data, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        raise _not_audio() from None
    if done.returncode != 0 or not done.stdout:
        raise ValidationError(_("The %(kind)s file could not be read; upload a WAV file (PCM).")
                              % {"kind": kind.upper()}, code="not_audio")
    return done.stdout


def _parse_wav(data: bytes) -> tuple[int, int, int, bytes]:
    """RIFF chunks → (channels, rate, bytes per sample, PCM bytes). Our own parser, not ``wave``: Python
    3.11's refuses WAVE_FORMAT_EXTENSIBLE, which most 24-bit files use, and we want to name what we refuse."""
    fmt = pcm = None
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]  # a streaming writer's data size may overrun: take what is there
        if chunk == b"fmt ":
            fmt = body
        elif chunk == b"data":
            pcm = body
            if fmt is not None:
                break
        pos += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16 or pcm is None:
        raise _not_audio()
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # the sub-format GUID starts with the plain format tag
    if tag != _PCM:
        raise ValidationError(
            _("The WAV file is %(format)s; save it as uncompressed PCM (16-bit) and upload it again.")
            % {"format": _FORMAT_NAMES.get(tag, _("compressed (format %(tag)d)") % {"tag": tag})},
            code="compressed")
    width = block_align // channels if channels else 0
    if channels not in (1, 2) or width not in (1, 2, 3, 4) or bits > 8 * width or not 1000 <= rate <= 384000:
        raise ValidationError(
            _("Unsupported WAV layout (%(channels)d channels, %(bits)d bits, %(rate)d Hz): use mono or stereo, "
              "8 to 32 bits.") % {"channels": channels, "bits": bits, "rate": rate}, code="unsupported")
    return channels, rate, width, pcm


def _to_mono_16bit_8k(pcm: bytes, channels: int, rate: int, width: int) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if width == 1:
            pcm = audioop.bias(pcm, 1, -128)  # 8-bit WAV is unsigned
        pcm = audioop.lin2lin(pcm, width, 4)  # 32-bit while we filter: no clipping
        if channels == 2:
            pcm = audioop.tomono(pcm, 4, 0.5, 0.5)
        if rate > RATE:
            pcm = _box_filter(pcm, round(rate / RATE))
        if rate != RATE:
            pcm = audioop.ratecv(pcm, 4, 1, rate, RATE, None)[0]
        return audioop.lin2lin(pcm, 4, 2)


def _box_filter(pcm: bytes, taps: int) -> bytes:
    """A moving average over ``taps`` samples before decimating: ratecv only interpolates, and without a low
    pass everything above 4 kHz folds back into the band as noise."""
    if taps < 2:
        return pcm
    scaled = audioop.mul(pcm, 4, 1.0 / taps)
    out = scaled
    for shift in range(1, taps):
        out = audioop.add(out, b"\0" * (4 * shift) + scaled[:len(scaled) - 4 * shift], 4)
    return out


# --- where a node gets it ----------------------------------------------------------------------------------------


def token(pk: int, sha256: str) -> str:
    """The unguessable part of an announcement's URL: an HMAC of what it is with SECRET_KEY."""
    key = hashlib.sha256(b"voipadmin.media.sound:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, f"{pk}:{sha256}".encode(), hashlib.sha256).hexdigest()[:32]


def sound_path(announcement) -> str:
    """The portal path of an announcement's current audio (it changes when the audio does)."""
    return reverse("media_sound", kwargs={"pk": announcement.pk, "sha256": announcement.sha256,
                                          "token": token(announcement.pk, announcement.sha256)})


def sound_url(announcement) -> str:
    """The absolute URL a node fetches (VOIPADMIN_MEDIA_BASE_URL: the portal as the nodes reach it)."""
    return settings.VOIPADMIN_MEDIA_BASE_URL.rstrip("/") + sound_path(announcement)


def media_uri(announcement) -> str:
    """What ARI's ``play`` (``media=``) and the dialplan's Playback accept for it."""
    return "sound:" + sound_url(announcement)


def site_announcement(site, purpose: str):
    """The Announcement a site plays for a purpose: its own, else the estate's default, else None (one query).

    ``site`` is a Site, its pk or its slug.
    """
    own = Q(site__slug=site) if isinstance(site, str) else Q(site=site)
    row = (SiteAnnouncement.objects.filter(Q(purpose=purpose) & (own | Q(site__isnull=True)))
           .select_related("announcement").defer("announcement__audio")
           .order_by(F("site_id").asc(nulls_last=True)).first())  # the site's own row first
    return row.announcement if row else None
