"""The call's voice at the unit level: the policy's words for it, its packets in the sealed
fragments (cut at a late on-hook with the frames), and the recorder's timeline and silence.
The real sound server is in tests/integration/test_voice_x11.py."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import numpy as np
import pytest

from agentapp.capture.fragments import Fragmenter
from agentapp.capture.voice import DRIFT_S, FRAME, Silence, VoiceRecorder
from agentapp.capture.voice import SOURCE_RATE as CAPTURE_RATE
from agentapp.core.clock import SystemClock
from agentapp.core.policy import VOICE_OFF, VOICE_SOFTPHONE, PolicyError, parse_policy
from agentapp.core.videopack import AGENT, CALLER, Packet, VoicePacket, pack, unpack
from agentapp.vault.voice import RATE, decode
from tests.policies import policy_text

SOFTPHONE = '\n[softphone]\nbinary = "baresip"\n'


# ------------------------------------------------------------------ policy
def test_voice_is_off_unless_the_policy_names_the_softphone() -> None:
    p = parse_policy(policy_text("alice"))
    assert p.voice == VOICE_OFF and p.voice_for("alice") == VOICE_OFF and p.softphone is None
    on = policy_text("alice", extra=SOFTPHONE).replace(
        "[recording]\n", '[recording]\nvoice = "softphone"\n', 1
    )
    p = parse_policy(on)
    assert p.voice_for("alice") == VOICE_SOFTPHONE and p.softphone is not None
    assert p.softphone.binary == "baresip"
    with pytest.raises(PolicyError, match=r"needs a \[softphone\] table"):
        parse_policy(on.replace(SOFTPHONE, ""))
    with pytest.raises(PolicyError, match="voice must be"):
        parse_policy(on.replace('voice = "softphone"', 'voice = "everything"'))
    with pytest.raises(PolicyError, match="binary or application_name"):
        parse_policy(on.replace('binary = "baresip"', ""))


def test_an_enrolment_chooses_its_own_voice() -> None:
    text = policy_text("alice", extra=SOFTPHONE).replace(
        'training = "CRM onboarding"', 'training = "CRM onboarding"\nvoice = "softphone"'
    )
    p = parse_policy(text)
    assert p.voice == VOICE_OFF and p.voice_for("alice") == VOICE_SOFTPHONE
    assert p.voice_for("bob") == VOICE_OFF


# ------------------------------------------------------------------ sealed fragments
def test_voice_round_trips_in_a_fragment_and_a_video_only_one_keeps_its_format() -> None:
    video = [Packet(0, True, b"\x00\x00\x00\x01e")]
    voice = [VoicePacket(0, AGENT, b"\x01\x02"), VoicePacket(20, CALLER, b"\x03")]
    assert pack(64, 48, video).startswith(b"VP1")
    blob = pack(64, 48, video, voice)
    assert blob.startswith(b"VP2") and unpack(blob).voice == tuple(voice)
    assert unpack(pack(64, 48, video)).voice == ()
    bad = bytearray(blob)
    bad[-4] = 7  # the last voice packet's channel (before its length and 1 byte): neither
    with pytest.raises(ValueError, match="voice"):
        unpack(bytes(bad))
    with pytest.raises(ValueError, match="truncated"):
        unpack(blob[:-1])


class _Sink:
    def __init__(self) -> None:
        self.records: dict[tuple[int, int], bytes] = {}

    def append(self, seq: int, index: int, payload: bytes, frames: int, call_end: bool) -> None:
        self.records[(seq, index)] = payload

    def retract(self, seq: int, index: int) -> None:
        for k in [k for k in self.records if k[0] > seq or (k[0] == seq and k[1] >= index)]:
            del self.records[k]

    def voice(self) -> list[int]:
        return [v.pts_ms for _, p in sorted(self.records.items()) for v in unpack(p).voice]


def test_voice_waits_for_the_first_frame_and_is_cut_at_the_on_hook_with_the_frames() -> None:
    sink = _Sink()
    f = Fragmenter(sink, fragment_s=1.0)
    f.add_voice([VoicePacket(t, AGENT, b"v") for t in (0, 20, 40)])  # before any frame
    f.start_segment(64, 48, now=0.0)
    f.add([Packet(60, True, b"k")])
    f.seal(0.1)
    assert sink.voice() == [0, 20, 40]  # in the call's first sealed fragment
    f.add_voice([VoicePacket(t, CALLER, b"v") for t in range(60, 3000, 20)])
    f.add([Packet(t, False, b"p") for t in range(100, 3000, 100)])
    f.seal(1.2)
    assert max(sink.voice()) == 2980
    f.end(until_ms=1500)  # a late on-hook: what was sealed after it is taken back
    assert max(sink.voice()) <= 1500 and 1480 in sink.voice()


def test_voice_goes_on_sealed_while_the_window_is_hidden_between_segments() -> None:
    sink = _Sink()
    f = Fragmenter(sink, fragment_s=1.0)
    f.start_segment(64, 48, now=0.0)
    f.add([Packet(0, True, b"k")])
    f.seal(0.0)
    f.add_voice([VoicePacket(t, CALLER, b"v") for t in range(0, 1200, 20)])  # no frame
    assert f.due(1.1)
    f.seal(1.1)
    assert len(sink.records) == 2 and max(sink.voice()) == 1180


def test_voice_alone_never_makes_a_recording() -> None:
    sink = _Sink()
    f = Fragmenter(sink)
    f.add_voice([VoicePacket(0, AGENT, b"v")])
    assert f.end(until_ms=None) == 0 and not sink.records


# ------------------------------------------------------------------ the recorder
class _Tone:
    """A stand-in sound server: each channel is a process writing a tone in real time."""

    def __init__(self, stall_at: float = 0.0) -> None:
        self.far, self.near, self.why = 1, "mic", ""
        self.opened: list[int] = []
        self.stall_at = stall_at  # a stream that falls behind there, then catches up at once

    def find(self) -> _Tone:
        return self

    def open(self, channel: int, found: object) -> subprocess.Popen[bytes]:
        hz = 1000 if channel == AGENT else 440
        self.opened.append(channel)
        per = CAPTURE_RATE // 50  # 20 ms of samples at the rate the streams are read
        code = (
            "import sys, time, numpy as np\n"
            f"n = np.arange({per}); t0 = time.monotonic(); i = 0\n"
            "while True:\n"
            f"    s = (np.sin(2 * np.pi * {hz} * (n + i * {per}) / {CAPTURE_RATE}) * 8000)\n"
            "    sys.stdout.buffer.write(s.astype('<i2').tobytes()); sys.stdout.buffer.flush()\n"
            "    i += 1\n"
            f"    if {round(self.stall_at / 0.02)} <= i < {round(self.stall_at / 0.02) + 6}:\n"
            "        time.sleep(0.04)  # half speed for 0.24 s: 0.12 s short, then caught up\n"
            "    time.sleep(max(0, t0 + i * 0.02 - time.monotonic()))\n"
        )
        return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)


def _level(x: np.ndarray, hz: float) -> float:
    """The share of the spectrum within 30 Hz of `hz` (a pure tone: about 0.9)."""
    s = np.abs(np.fft.rfft(x.astype(float) * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(s[(f > hz - 30) & (f < hz + 30)].sum() / max(s.sum(), 1.0))


def test_two_channels_on_the_call_clock_and_silence_while_muted() -> None:
    clock = SystemClock()
    silence = Silence()
    tone = _Tone()
    started = clock.now()
    r = VoiceRecorder(tone, clock=clock, started_at=started, silence=silence)
    r.start()
    time.sleep(2.5)  # (the stand-in's tones start within about 0.9 s)
    paused = clock.now() - started
    silence.set(True, clock.now())
    time.sleep(0.8)
    silence.set(False)
    time.sleep(0.8)
    r.stop()
    assert r.state == "recording" and sorted(tone.opened) == [AGENT, CALLER]
    packets = r.take()
    assert {p.channel for p in packets} == {AGENT, CALLER}
    audio = decode(packets)
    end = audio.shape[1] / RATE
    assert end == pytest.approx(4.1, abs=0.35)  # the call's clock, not the count of samples
    first = audio[:, int(1.2 * RATE) : int((paused - 0.55) * RATE)]
    # each channel its own tone (a starved machine delays the stand-in's writes: a gap filled
    # with silence spreads the spectrum, so "mostly", and the other tone absent)
    assert _level(first[0], 1000) > 0.3 and _level(first[1], 440) > 0.3
    assert _level(first[0], 440) < 0.1 and _level(first[1], 1000) < 0.1
    # the pause, and its look-behind before it (0.5 s: what the video drops too), cut from
    # the packet the look-behind's start falls in; the codec's ring after a cut: < 60 ms.
    # The sound after the un-mute (0.8 s after `paused`, or later) may sit up to DRIFT_S
    # early on the call's clock, and ramps in over a frame.
    back = paused + 0.8 - DRIFT_S - FRAME / RATE
    quiet = audio[:, int((paused - 0.44) * RATE) : int(back * RATE)]
    assert np.abs(quiet).max() <= 2, "muted: digital silence (the decoder's ±1 LSB aside)"
    for channel in audio:
        last = np.flatnonzero(np.abs(channel[: int(paused * RATE)]) > 100)[-1] / RATE
        assert paused - 0.5 - 0.07 <= last <= paused - 0.5 + 0.03, "sound ends with the video"
    resumed = audio[0, int((paused + 1.0) * RATE) : int((paused + 1.5) * RATE)]
    assert _level(resumed, 1000) > 0.5


def test_a_stream_that_stalls_and_catches_up_leaves_no_hole() -> None:
    """A loaded machine: the sound server delivers at half speed for a moment (0.12 s short),
    then all of it at once. The samples follow on where they belong: no silence in the voice
    (a jump to the clock at the shortfall left a hole)."""
    clock = SystemClock()
    tone = _Tone(stall_at=1.6)
    r = VoiceRecorder(tone, clock=clock, started_at=clock.now(), silence=Silence())
    r.start()
    time.sleep(3.2)
    r.stop()
    audio = decode(r.take())
    window = RATE // 20  # 50 ms
    for channel in audio:
        start = np.flatnonzero(np.abs(channel) > 100)[0]
        levels = [np.abs(channel[at : at + window]).max()
                  for at in range(start, len(channel) - 3 * window, window)]  # fmt: skip
        assert min(levels) > 1000, f"a hole in the voice: {levels}"


def test_one_side_alone_is_never_kept_and_the_status_says_so() -> None:
    """The softphone records from its own output's monitor (refused): the caller's side is
    there, but a voice is kept only with both sides."""
    tone = _Tone()
    tone.near, tone.why = None, "the softphone records from spk.monitor, the monitor of its own"
    clock = SystemClock()
    r = VoiceRecorder(tone, clock=clock, started_at=clock.now(), silence=Silence())
    r.start()
    time.sleep(1.2)
    r.stop()
    assert r.state.startswith("no voice: the softphone records from spk.monitor")
    assert "neither side is kept" in r.state
    assert tone.opened == [] and r.take() == []


def test_no_stream_found_says_why_and_writes_nothing() -> None:
    class Nothing:
        far = near = None
        why = "the softphone plays no sound stream"

        def find(self) -> Nothing:
            return self

        def open(self, channel: int, found: object) -> subprocess.Popen[bytes]:
            raise AssertionError("nothing to open")

    clock = SystemClock()
    r = VoiceRecorder(Nothing(), clock=clock, started_at=clock.now(), silence=Silence())
    r.start()
    time.sleep(0.3)
    r.stop()
    assert r.state == "no voice: the softphone plays no sound stream (neither side is kept)"
    assert r.take() == []


def test_the_notice_and_the_register_say_the_voice_is_recorded_and_how() -> None:
    from agentapp.core.notice import build_notice, notice_digest, read_out
    from agentapp.core.register import build_register

    off = parse_policy(policy_text("alice", extra=SOFTPHONE))
    on = parse_policy(
        policy_text("alice", extra=SOFTPHONE).replace(
            "[recording]\n", '[recording]\nvoice = "softphone"\n', 1
        )
    )
    fr_off, fr = (
        build_notice(off, "alice", "fr").as_text(),
        build_notice(on, "alice", "fr").as_text(),
    )
    assert "aucun son" in fr_off and "aucun son" not in fr
    assert "Le son de l'appel est enregistré avec la vidéo, depuis le logiciel" in fr
    assert "même coupé dans le logiciel téléphonique" in fr  # the softphone's mute is not read
    assert "La pause coupe aussi le son des deux voix" in fr and "son compris" in fr
    assert "0,5 s qui la précèdent" in fr  # the look-behind, for the sound as for the picture
    assert "le son n'est pas gardé du tout, ni votre voix ni celle de l'appelant" in fr
    assert "toujours sans le son" in fr  # anonymised extracts
    assert "y compris de l'enregistrement de leur voix" in fr  # callers told by the telephony
    en = build_notice(on, "alice", "en").as_text()
    assert "no sound" not in en and "The pause also silences both voices" in en
    assert notice_digest(on, "alice") != notice_digest(off, "alice")  # asked to read it again
    assert "avec notre conversation" in read_out(on, "fr")
    assert "never the sound" in read_out(off, "en")
    reg = build_register(on, "fr").as_text()
    assert "Voix de l'appel pour tous les agents inscrits" in reg and "Ni son" not in reg
    assert "The call's voice for every enrolled agent" in build_register(on, "en").as_text()


def test_the_tray_says_whether_the_sound_is_recorded() -> None:
    from agentapp import i18n
    from agentapp.agent.status import AgentState, EngineStatus
    from agentapp.ui.words import lines

    base = EngineStatus(AgentState.RECORDING, "recording for training", "r1", application="CRM")
    assert not any("sound" in line for line in lines(base))  # voice off: nothing to say
    said = lines(dataclasses.replace(base, voice="recording"))
    assert "The call's sound is recorded too (the pause silences it)." in said
    i18n.use("fr")
    lost = EngineStatus(
        AgentState.RECORDING, "x", "r1", voice="no voice: the softphone plays no sound stream"
    )
    said = lines(lost)
    assert "Le son de l'appel n'est pas enregistré : ni votre voix, ni celle de l'appelant." in said


@pytest.mark.parametrize("rate", [16000, 48000])
def test_the_voice_decodes_at_the_pitch_and_the_moment_it_was_recorded(rate: int) -> None:
    """The player decodes at 16 kHz, the export at 48 kHz: libopus gives 48 kHz whatever is
    asked, so the decoder resamples (without it, 16 kHz played a third of the pitch, three
    times too slow)."""
    from agentapp.capture.voice import RATE as RECORDED
    from agentapp.capture.voice import opus_packets

    n = np.arange(RECORDED)
    tone = (np.sin(2 * np.pi * 440 * n / RECORDED) * 8000).astype(np.int16)
    tone[: RECORDED // 2] = 0  # silence for the first half second
    voice = decode(opus_packets(tone, CALLER), 1000, rate=rate)
    assert voice.shape == (2, rate) and not voice[AGENT].any()
    heard = voice[CALLER].astype(float)
    spectrum = np.abs(np.fft.rfft(heard))
    assert abs(np.fft.rfftfreq(len(heard), 1 / rate)[np.argmax(spectrum)] - 440) < 5
    onset = np.flatnonzero(np.abs(heard) > 1000)[0] / rate
    assert abs(onset - 0.5) < 0.02, onset
