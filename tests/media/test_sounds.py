"""Announcements ("locuciones"): an upload checked and converted to WAV 8 kHz mono 16-bit (media/sounds.py),
served to the nodes at an unguessable, cacheable URL with no login, and which one a site plays for a purpose;
the ``announce`` handler's answer to [va-announce]."""
from __future__ import annotations

import asyncio
import hashlib
import io
import math
import struct
import wave

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from media import actions, sounds
from media.models import SiteAnnouncement
from media.service import announce
from sites import actions as site_actions
from voipadmin.actors import Actor

ACTOR = Actor(label="tests", source="system")


def make_wav(*, rate: int = 8000, channels: int = 1, width: int = 2, seconds: float = 0.5, tone: float = 440.0,
             fmt_tag: int | None = None) -> bytes:
    """A sine tone at half scale, written by the standard library's ``wave`` (``fmt_tag`` rewrites the header's
    format, to fake a compressed file)."""
    frames = bytearray()
    for i in range(int(rate * seconds)):
        value = 0.5 * math.sin(2 * math.pi * tone * i / rate)
        if width == 1:
            sample = bytes([int(128 + value * 127)])  # 8-bit WAV is unsigned
        else:
            sample = struct.pack("<i", int(value * (2 ** (8 * width - 1) - 1)))[:width]
        frames += sample * channels
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    data = out.getvalue()
    if fmt_tag is not None:
        data = data[:20] + struct.pack("<H", fmt_tag) + data[22:]
    return data


def decoded(wav_bytes: bytes) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        return (w.getframerate(), w.getnchannels(), w.getsampwidth()), w.readframes(w.getnframes())


def rms(samples: bytes) -> int:
    values = struct.unpack(f"<{len(samples) // 2}h", samples)
    return int(math.sqrt(sum(v * v for v in values) / len(values)))


# --- conversion ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate, channels, width", [(44100, 2, 2), (8000, 1, 1), (48000, 1, 3), (16000, 2, 4),
                                                   (22050, 1, 2)])
def test_it_converts_pcm_wav_to_8khz_mono_16bit_keeping_length_and_level(rate, channels, width):
    wav_bytes, duration_ms = sounds.convert(make_wav(rate=rate, channels=channels, width=width, seconds=1.0))
    layout, samples = decoded(wav_bytes)
    assert layout == (8000, 1, 2)
    assert duration_ms == 1000 and abs(len(samples) // 2 - 8000) <= 2
    # a 440 Hz tone at half scale stays one: RMS 0.5/sqrt(2) of full scale, whatever the source's format
    assert abs(rms(samples) - 11585) < 400


def test_it_reads_a_django_upload_and_filters_what_8_khz_cannot_carry():
    upload = SimpleUploadedFile("hello.wav", make_wav(rate=44100, channels=2, tone=15000.0, seconds=0.5),
                                content_type="audio/wav")
    wav_bytes, duration_ms = sounds.convert(upload)
    assert duration_ms == 500
    # 15 kHz is far above the 4 kHz an 8 kHz file carries: it must not fold back as a loud tone
    assert rms(decoded(wav_bytes)[1]) < 11585 * 0.3


def test_it_accepts_wave_format_extensible_pcm():
    data = bytearray(make_wav(rate=48000, width=3))
    fmt = struct.pack("<HHIIHHHHIH14s", 0xFFFE, 1, 48000, 48000 * 3, 3, 24, 22, 24, 4, 1,
                      b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    pcm = bytes(data[44:])
    extensible = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    _, duration_ms = sounds.convert(b"RIFF" + struct.pack("<I", len(extensible)) + extensible)
    assert duration_ms == 500


@pytest.mark.parametrize("data, code, words", [
    (b"", "empty", "empty"),
    (make_wav(seconds=0), "empty", "no sound"),
    (b"this is a text file, not a sound" * 40, "not_audio", "WAV"),
    (b"RIFF\x10\x00\x00\x00WAVEjunk\x04\x00\x00\x00abcd", "not_audio", "WAV"),
    (make_wav(fmt_tag=7), "compressed", "µ-law"),
    (make_wav(fmt_tag=2), "compressed", "ADPCM"),
    (make_wav(fmt_tag=0x55), "compressed", "MP3"),
])
def test_it_refuses_what_is_not_usable_audio_with_a_clear_error(data, code, words):
    with pytest.raises(ValidationError) as caught:
        sounds.convert(data)
    assert caught.value.code == code and words in caught.value.messages[0]


def test_it_refuses_a_sound_longer_than_ten_minutes_without_decoding_it():
    # the header alone says 11 minutes of 1 kHz 8-bit audio (660 kB): refused before any conversion
    data = make_wav(rate=1000, width=1, seconds=660)
    with pytest.raises(ValidationError) as caught:
        sounds.convert(data)
    assert caught.value.code == "too_long" and "10 minutes" in caught.value.messages[0]


def test_it_refuses_a_file_over_the_upload_limit_before_reading_it(monkeypatch):
    monkeypatch.setattr(sounds, "MAX_UPLOAD_BYTES", 1000)
    upload = SimpleUploadedFile("big.wav", make_wav(seconds=0.5))
    with pytest.raises(ValidationError) as caught:
        sounds.convert(upload)
    assert caught.value.code == "too_big"


# --- serving -------------------------------------------------------------------------------------------------------


@pytest.fixture
def central(db):
    return site_actions.create_site(actor=ACTOR, slug="central", name="Central", sip_domain="voip.example.test",
                                    ranges=[(1000, 3999)])


@pytest.fixture
def hello(central):
    return actions.create_announcement(actor=ACTOR, name="hello", upload=SimpleUploadedFile(
        "hello.wav", make_wav(rate=16000, seconds=0.25)))


@override_settings(VOIPADMIN_MEDIA_BASE_URL="http://portal.example.test:8000/")
def test_the_url_names_the_content_and_is_unguessable(hello):
    url = sounds.sound_url(hello)
    assert url.startswith(f"http://portal.example.test:8000/sounds/{hello.pk}/{hello.sha256}-") and url.endswith(".wav")
    assert sounds.media_uri(hello) == "sound:" + url
    assert hello.sha256 == hashlib.sha256(bytes(hello.audio)).hexdigest()
    with override_settings(SECRET_KEY="another-secret-key-entirely-0123456789abcdef"):
        assert sounds.sound_url(hello) != url  # the token is an HMAC with SECRET_KEY


def test_a_node_fetches_it_with_no_login_cacheable_for_good_in_one_query(client, hello):
    path = sounds.sound_path(hello)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200 and len(queries) == 1
    assert response["Content-Type"] == "audio/wav" and response.content == bytes(hello.audio)
    assert response["ETag"] == f'"{hello.sha256}"'
    assert "public" in response["Cache-Control"] and "max-age=31536000" in response["Cache-Control"]
    assert client.head(path).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        again = client.get(path, HTTP_IF_NONE_MATCH=f'"{hello.sha256}"')
    assert again.status_code == 304 and len(queries) == 0


def test_a_wrong_token_or_replaced_audio_is_404(client, hello):
    path = sounds.sound_path(hello)
    wrong = path[:-8] + "00000000.wav"
    with CaptureQueriesContext(connection) as queries:
        assert client.get(wrong).status_code == 404
    assert len(queries) == 0  # refused before the database is asked
    actions.update_announcement(hello, actor=ACTOR, upload=make_wav(seconds=0.3, tone=880.0))
    assert client.get(path).status_code == 404  # the old URL is gone with the old audio
    assert client.get(sounds.sound_path(hello)).status_code == 200
    assert client.post(sounds.sound_path(hello)).status_code == 405


# --- which one a site plays ------------------------------------------------------------------------------------------


def test_a_site_plays_its_own_announcement_else_the_estates_in_one_query(central, hello):
    branch = site_actions.create_site(actor=ACTOR, slug="branch1", name="Branch 1", sip_domain="voip.example.test",
                                      ranges=[(4000, 5999)])
    estate_one = actions.create_announcement(actor=ACTOR, name="estate", upload=make_wav(seconds=0.1))
    SiteAnnouncement.objects.create(site=None, purpose="user_unavailable", announcement=estate_one)
    SiteAnnouncement.objects.create(site=central, purpose="user_unavailable", announcement=hello)
    with CaptureQueriesContext(connection) as queries:
        assert sounds.site_announcement(central, "user_unavailable") == hello
    assert len(queries) == 1
    assert sounds.site_announcement("central", "user_unavailable") == hello
    assert sounds.site_announcement(branch.pk, "user_unavailable") == estate_one
    assert sounds.site_announcement("branch1", "ringback") is None


class FakeContext:
    """What the ``announce`` handler uses of a CallContext."""

    def __init__(self, args):
        self.args, self.channel_id = args, "chan-1"
        self.node = type("Node", (), {"site": "central"})()
        self.variables, self.posts = {}, []
        self.ari = self

    async def db(self, fn, *args):
        return await asyncio.to_thread(fn, *args)

    async def set_variable(self, name, value):
        self.variables[name] = value

    async def post(self, path, body=None, **params):
        self.posts.append((path, params))


@pytest.mark.django_db(transaction=True)  # the lookup runs in a thread (its own connection), as in the service
@override_settings(VOIPADMIN_MEDIA_BASE_URL="http://127.0.0.1:8000")
def test_the_announce_handler_sets_the_url_and_hands_the_call_back(central, hello):
    SiteAnnouncement.objects.create(site=central, purpose="service_unavailable", announcement=hello)
    ctx = FakeContext(["announce", "service_unavailable", "central"])
    asyncio.run(announce.announce_call(ctx))
    assert ctx.variables == {"VA_ANNOUNCE": sounds.sound_url(hello)}
    assert ctx.posts == [("/channels/chan-1/continue", {})]  # the next priority of [va-announce]
    nothing = FakeContext(["announce", "ringback", ""])  # no site given: the node's
    asyncio.run(announce.announce_call(nothing))
    assert nothing.variables == {} and nothing.posts == [("/channels/chan-1/continue", {})]


def test_other_formats_need_sox_and_go_through_it_when_it_is_there(tmp_path, monkeypatch):
    ogg = b"OggS\x00\x02" + b"\x00" * 200
    monkeypatch.setattr(sounds.shutil, "which", lambda name: None)
    with pytest.raises(ValidationError) as caught:
        sounds.convert(ogg)
    assert caught.value.code == "not_audio"
    # a stand-in sox: checks what it is asked to read and answers with a WAV on stdout
    fake = tmp_path / "sox"
    (tmp_path / "out.wav").write_bytes(make_wav(rate=16000, seconds=0.2))
    fake.write_text(f"#!/bin/sh\n[ \"$3 $4\" = \"ogg -\" ] || exit 2\ncat > /dev/null\ncat {tmp_path / 'out.wav'}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sounds.shutil, "which", lambda name: str(fake))
    assert sounds.convert(ogg)[1] == 200
    fake.write_text("#!/bin/sh\ncat > /dev/null\nexit 1\n")
    with pytest.raises(ValidationError) as caught:
        sounds.convert(ogg)
    assert caught.value.code == "not_audio" and "OGG" in caught.value.messages[0]
