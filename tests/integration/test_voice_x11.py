"""The call's voice, recorded from the softphone's own streams on a real PulseAudio server:
the caller's side from the softphone's playback stream alone (music played to the
same output is never recorded), the agent's side from the microphone the softphone records
from, both silenced by a secure pause, nothing before off-hook or after on-hook, no voice at
all with `voice = "off"` or once the caller objects, and no plaintext audio anywhere.

The PulseAudio server is private to the test (its own runtime folder, null sinks, anonymous
unix socket) and stopped by PID. The "softphone" here is PulseAudio's own paplay/parec under one
application name: a real playback stream and a real record stream, as a softphone makes them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from agentapp.demo.virtual_display import VirtualDesktop
from tests.integration.conftest import Agent, Windows, need
from tests.integration.test_baresip import Phone, free_port, wait_port
from tests.policies import ACCESS, policy_text
from tests.pulse import RATE, Pulse, pulse_server
from tests.pulse import tone as _tone

SOFTPHONE = "softphone-under-test"  # the application name the policy's [softphone] names
VOICE = f'\n[softphone]\napplication_name = "{SOFTPHONE}"\n'


@pytest.fixture
def pulse(tmp_path: Path) -> Iterator[Pulse]:
    with pulse_server(tmp_path) as p:
        yield p


def _voice_policy(**kw: object) -> str:
    text = policy_text("alice", extra=VOICE + ACCESS, **kw)  # type: ignore[arg-type]
    return text.replace("[recording]\n", '[recording]\nvoice = "softphone"\n', 1)


def _softphone_call(p: Pulse) -> None:
    """The call's sound: the caller at 440 Hz (the softphone's playback), the agent at 1 kHz
    (the softphone's microphone), and music at 3 kHz playing to the same output."""
    p.play(1000, name="microphone-feed", device="micsink")  # what the agent "says"
    p.listen(name=SOFTPHONE)  # the softphone records the agent's microphone
    p.play(440, name=SOFTPHONE)  # the softphone plays the caller
    p.play(3000, name="music-player")  # another application, same output


def _audio(mp4: Path) -> tuple[np.ndarray, float]:
    """The export's voice as (2, n) floats, and where sample 0 is in seconds since off-hook."""
    with av.open(str(mp4)) as c:
        if not c.streams.audio:
            return np.zeros((2, 0)), 0.0
        chunks, start = [], None
        for frame in c.decode(audio=0):
            if start is None:
                start = float(frame.time or 0.0)
            chunks.append(frame.to_ndarray())
    return np.concatenate(chunks, axis=1), start or 0.0


def _level(x: np.ndarray, hz: float) -> float:
    """The share of the signal's spectrum at `hz` (±30 Hz), the median over 200 ms windows
    (a pure tone through Opus: about 0.75; one absent: below 0.01); 0 for silence."""
    window = RATE // 5
    shares = []
    for at in range(0, len(x) - window + 1, window):
        w = x[at : at + window]
        if not np.any(w):
            shares.append(0.0)
            continue
        s = np.abs(np.fft.rfft(w * np.hanning(window)))
        f = np.fft.rfftfreq(window, 1 / RATE)
        shares.append(float(s[(f > hz - 30) & (f < hz + 30)].sum() / s.sum()))
    return float(np.median(shares)) if shares else 0.0


def _span(a: np.ndarray, start: float, lo: float, hi: float) -> np.ndarray:
    return a[:, max(0, int((lo - start) * RATE)) : max(0, int((hi - start) * RATE))]


AUDIO_MAGIC = (b"OggS", b"OpusHead", b"RIFF", b"WAVE", b"fLaC")


def _no_plaintext_audio(*folders: Path) -> None:
    for folder in folders:
        for f in folder.rglob("*"):
            if f.is_file():
                blob = f.read_bytes()
                for magic in AUDIO_MAGIC:
                    assert magic not in blob, f"{magic!r} in {f}"


# What other tests' tools unpack in the temporary folder while this one runs (the package's
# tree holds the bundle, whose executable has these bytes): lintian's pool, the build scripts'
# `mktemp -d` folders (tmp.XXXXXXXXXX), pip's. Python's tempfile, which the agent would use,
# names its files and folders tmpXXXXXXXX (no dot, no prefix): they are all still read.
OTHER_TOOLS = ("lintian-pool-", "tmp.", "pip-")


def _no_audio_file_in_temp(since: float, ours: Path) -> None:
    """No file written in the temporary folders since `since` (but the tests' own inputs,
    under pytest's folders, and other tools' unpacked trees: other tests may run at the same
    time) holds an audio container or an Opus header: no temporary plaintext."""
    tests = ours.parents[len(ours.parents) - 3]  # /tmp/pytest-of-USER
    assert tests.name.startswith("pytest-of-"), tests
    for top in (Path(tempfile.gettempdir()), Path("/dev/shm")):
        for folder, _dirs, files in os.walk(top, onerror=lambda e: None):
            where = Path(folder)
            if where.is_relative_to(tests) or (
                where != top and where.relative_to(top).parts[0].startswith(OTHER_TOOLS)
            ):
                continue
            for name in files:
                f = Path(folder, name)
                try:
                    st = f.lstat()
                    if not f.is_file() or st.st_mtime < since or st.st_size > 50_000_000:
                        continue
                    blob = f.read_bytes()
                except OSError:
                    continue
                for magic in (m for m in AUDIO_MAGIC if m != b"RIFF"):  # (also a browser's WebP)
                    assert magic not in blob, f"{magic!r} in {f}"


def test_the_softphone_voice_is_recorded_with_the_video_and_nothing_else(
    desktop: VirtualDesktop, keystore: None, windows: Windows, pulse: Pulse,
    make_agent: Callable[..., Agent], tmp_path: Path,
) -> None:  # fmt: skip
    began = time.time()
    _softphone_call(pulse)
    time.sleep(0.5)  # the streams exist before the call, as a softphone's ringing would
    env = dict(desktop.env, PULSE_SERVER=pulse.env["PULSE_SERVER"])
    agent = make_agent(_voice_policy(), env=env).start()
    checks = {c["name"]: c for c in json.loads(agent.cli("doctor", "--json", check=False).stdout)}
    assert checks["voice"]["ok"] and "both voices will be recorded" in checks["voice"]["detail"]
    agent.hook("off-hook", "call-voice")
    time.sleep(3.0)
    assert agent.cli("control", "pause").stdout.startswith("ok")
    time.sleep(1.5)
    assert agent.cli("control", "resume").stdout.startswith("ok")
    time.sleep(2.0)
    agent.hook("on-hook", "call-voice")
    (rec,) = agent.wait_sealed()
    assert rec["voice"] == "recording", rec
    (pause,) = rec["paused_spans"]  # type: ignore[misc]
    out = tmp_path / "voice.mp4"
    said = agent.cli("recordings", "export", str(rec["id"]), "--out", str(out),
                     "--reason", "test: check the voice").stdout  # fmt: skip
    assert "left channel the agent" in said
    audio, start = _audio(out)
    duration = float(rec["duration_s"])  # type: ignore[arg-type]
    assert audio.shape[0] == 2 and audio.shape[1] / RATE == pytest.approx(duration, abs=0.3)
    agent_side, caller_side = audio
    before = _span(audio, start, 0.8, pause[0] - 0.2)
    assert _level(before[0], 1000) > 0.5 and _level(before[1], 440) > 0.5, "the two voices"
    assert _level(before[0], 440) < 0.05 and _level(before[1], 1000) < 0.05, "not mixed"
    # the music beside the softphone, on the same output, is never recorded
    for channel in (agent_side, caller_side):
        assert _level(channel, 3000) < 0.01
    during = _span(audio, start, pause[0] + 0.1, pause[1] - 0.1)
    assert np.abs(during).max() < 0.01, "silence while paused (a card number read aloud)"
    after = _span(audio, start, pause[1] + 0.3, duration - 0.2)
    assert _level(after[0], 1000) > 0.5 and _level(after[1], 440) > 0.5
    _no_plaintext_audio(agent.data)  # sealed: no audio container or codec header anywhere
    _no_audio_file_in_temp(began, tmp_path)

    # an anonymised extract carries no voice (voices identify the agent and the caller)
    share = tmp_path / "share"
    share.mkdir()
    said = agent.cli("recordings", "export", str(rec["id"]), "--anonymise", "--out", str(share),
                     "--reason", "test: share without voices", user="carol").stdout  # fmt: skip
    assert "without the call's voice" in said
    (made,) = share.iterdir()
    assert _audio(made)[0].shape[1] == 0


def _shares(x: np.ndarray, hz: float) -> np.ndarray:
    """The share of each 100 ms window's spectrum at `hz` (±30 Hz); 0 for silence."""
    window = RATE // 10
    out = []
    for at in range(0, len(x) - window + 1, window):
        w = x[at : at + window]
        s = np.abs(np.fft.rfft(w * np.hanning(window)))
        f = np.fft.rfftfreq(window, 1 / RATE)
        out.append(float(s[(f > hz - 30) & (f < hz + 30)].sum() / s.sum()) if s.sum() else 0.0)
    return np.array(out)


def test_a_pause_takes_back_the_sound_of_its_look_behind_as_it_does_the_picture(
    desktop: VirtualDesktop, keystore: None, windows: Windows, pulse: Pulse,
    make_agent: Callable[..., Agent], tmp_path: Path,
) -> None:  # fmt: skip
    """The caller starts reading digits (2 kHz on both sides) 0.3 s before the trainee
    presses the pause: none of it is in the export, on either channel, and the sound before
    the pause ends where the picture does (the look-behind, 0.5 s), within 150 ms."""
    from agentapp.core.events import ControlCommand, ControlKind
    from agentapp.files import layout
    from agentapp.telephony.hook import send_event
    from agentapp.vault.export import iter_frames

    caller = pulse.feed(440, name=SOFTPHONE)  # the softphone's playback: the caller
    mic = pulse.feed(1000, name="microphone-feed", device="micsink")  # the agent's voice
    pulse.listen(name=SOFTPHONE)  # the softphone records the agent's microphone
    env = dict(desktop.env, PULSE_SERVER=pulse.env["PULSE_SERVER"])
    agent = make_agent(_voice_policy(), env=env).start()
    agent.hook("off-hook", "call-digits")
    time.sleep(3.0)
    caller.hz = mic.hz = 2000
    time.sleep(0.3)
    socket = layout.hook_socket(agent.data)
    assert send_event(socket, ControlCommand(ControlKind.PAUSE, time.time())).startswith("ok")
    time.sleep(1.0)
    caller.hz, mic.hz = 440, 1000
    time.sleep(0.5)
    assert send_event(socket, ControlCommand(ControlKind.RESUME, time.time())).startswith("ok")
    time.sleep(1.5)
    agent.hook("on-hook", "call-digits")
    (rec,) = agent.wait_sealed()
    assert rec["voice"] == "recording", rec
    (pause,) = rec["paused_spans"]  # type: ignore[misc]
    out = tmp_path / "digits.mp4"
    agent.cli("recordings", "export", str(rec["id"]), "--out", str(out), "--reason", "test: digits")
    audio, start = _audio(out)
    for channel, voice in zip(audio, (1000, 440), strict=True):
        assert _shares(channel, 2000).max() < 0.05, "the digits read before the pause are kept"
        before = _span(audio, start, 1.0, pause[0] - 1.0)[0 if voice == 1000 else 1]
        assert _level(before, voice) > 0.5, "the voice before the digits is kept"
    last_frame = max(t for t, _bgr in iter_frames(out) if t < pause[0])
    for channel in audio:
        loud = np.flatnonzero(np.abs(channel[: max(0, int((pause[0] - start) * RATE))]) > 0.01)
        last_sound = start + loud[-1] / RATE
        print(f"before the pause: last frame {last_frame:.3f} s, last sound {last_sound:.3f} s")
        assert abs(last_sound - last_frame) <= 0.150


def test_no_voice_when_the_policy_says_off_or_the_softphone_is_silent(
    desktop: VirtualDesktop, keystore: None, windows: Windows, pulse: Pulse,
    make_agent: Callable[..., Agent], tmp_path: Path,
) -> None:  # fmt: skip
    _softphone_call(pulse)
    env = dict(desktop.env, PULSE_SERVER=pulse.env["PULSE_SERVER"])
    off = policy_text("alice", extra=VOICE)  # [softphone] named, voice left "off"
    agent = make_agent(off, env=env).start()
    rec = agent.call("call-off", 2.0)
    assert len(agent.recordings()) == 1
    assert rec["voice"] == ""
    out = tmp_path / "off.mp4"
    agent.cli("recordings", "export", str(rec["id"]), "--out", str(out), "--reason", "test: off")
    assert _audio(out)[0].shape[1] == 0
    agent.stop()

    # the caller objects: the voice goes with the video, nothing of the call stays
    (agent.data / "policy.toml").write_text(_voice_policy())
    agent.cli("notice", "acknowledge")  # the voice is in the notice now: read it again
    agent.start()
    assert agent.hook("off-hook", "call-objects") == "ok: recording"
    time.sleep(2.5)
    assert json.loads(agent.cli("status").stdout)["voice"] == "recording"
    assert agent.cli("control", "caller-objects").stdout.startswith("ok")
    agent.hook("on-hook", "call-objects")
    time.sleep(1.0)
    assert [r["id"] for r in agent.recordings()] == [rec["id"]]
    assert not list((agent.data / "recordings").rglob("*voice*"))


PHONE = """poll_method epoll
sip_listen 127.0.0.1:{sip}
net_interface 127.0.0.1
audio_player {player}
audio_source {source}
audio_alert alsa,null
module_path /usr/lib/baresip/modules
module g711.so
module alsa.so
module aufile.so
module_tmp uuid.so
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl}
"""


def _phone(folder: Path, account: str, env: dict[str, str], *, player: str, source: str) -> Phone:
    folder.mkdir()
    sip, ctrl = free_port(), free_port()
    while ctrl == sip + 1:  # baresip listens for SIP over TLS on sip + 1
        ctrl = free_port()
    (folder / "config").write_text(PHONE.format(sip=sip, ctrl=ctrl, player=player, source=source))
    (folder / "accounts").write_text(
        f"<sip:{account}@127.0.0.1:{sip}>;regint=0;answermode=auto;audio_codecs=pcmu\n"
    )
    proc = subprocess.Popen(["baresip", "-f", str(folder)], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    wait_port(ctrl)
    return Phone(sip, ctrl, proc)


def _baresip_call(
    pulse: Pulse,
    desktop: VirtualDesktop,
    make_agent: Callable[..., Agent],
    tmp_path: Path,
    source: str,
    seconds: float = 4.0,
) -> tuple[Agent, dict[str, object], str]:
    """A real call from a caller's baresip (440 Hz from a file) to the agent's baresip
    (playing to PulseAudio, recording from `source`), watched by the real agent: the agent,
    the sealed recording, and the status's voice midway."""
    need(shutil.which("baresip") is not None, "baresip is not installed (Debian baresip-core)")
    tone = tmp_path / "caller-440-8k.wav"
    _tone(tone, 440, 60, rate=8000)  # aufile wants the codec's rate
    phones = [
        _phone(tmp_path / "agent-phone", "agent", pulse.env, player="alsa,pulse", source=source),
        _phone(tmp_path / "caller-phone", "caller", pulse.env, player="alsa,null",
               source=f"aufile,{tone}"),
    ]  # fmt: skip
    agent_phone, caller = phones
    try:
        env = dict(desktop.env, PULSE_SERVER=pulse.env["PULSE_SERVER"])
        policy = _voice_policy().replace(VOICE, '\n[softphone]\nbinary = "baresip"\n')
        agent = make_agent(policy, env=env)
        (agent.data / "agent.toml").write_text(
            f'[source]\nkind = "baresip"\nport = {agent_phone.ctrl}\n'
            f'account = "sip:agent@127.0.0.1:{agent_phone.sip}"\n'
        )
        agent.start()
        agent.wait_log("connected; 0 call(s) in progress")
        caller.command("dial", f"sip:agent@127.0.0.1:{agent_phone.sip}")
        agent.wait_log("status: recording")
        time.sleep(seconds)
        said = str(json.loads(agent.cli("status").stdout)["voice"])
        caller.command("hangup")
        (rec,) = agent.wait_sealed()
    finally:
        for phone in phones:
            phone.stop()
    return agent, rec, said


def test_a_real_baresip_call_is_recorded_with_both_voices_and_nothing_else(
    desktop: VirtualDesktop, keystore: None, windows: Windows, pulse: Pulse,
    make_agent: Callable[..., Agent], tmp_path: Path,
) -> None:  # fmt: skip
    """The caller's baresip plays a 440 Hz file (aufile) over the call; the agent's baresip
    plays it to PulseAudio through ALSA's pulse plug-in and records the microphone (a null
    sink's monitor fed 1 kHz); a music player sends 3 kHz to the same output."""
    for args in (["set-default-sink", "spk"], ["set-default-source", "micsink.monitor"]):
        subprocess.run(["pactl", *args], env=pulse.env, check=True, timeout=10)
    pulse.play(1000, name="microphone-feed", device="micsink")
    pulse.play(3000, name="music-player")
    agent, rec, _said = _baresip_call(pulse, desktop, make_agent, tmp_path, "alsa,pulse")
    assert rec["voice"] == "recording", rec
    out = tmp_path / "call.mp4"
    agent.cli("recordings", "export", str(rec["id"]), "--out", str(out), "--reason", "test: voice")
    audio, start = _audio(out)
    duration = float(rec["duration_s"])  # type: ignore[arg-type]
    talk = _span(audio, start, 1.5, duration - 0.3)  # the softphone's streams open on answer
    assert _level(talk[0], 1000) > 0.5, "the agent's microphone, on the agent's channel"
    assert _level(talk[1], 440) > 0.5, "the caller's voice, from the softphone's playback"
    assert _level(audio[0], 3000) < 0.01 and _level(audio[1], 3000) < 0.01, "no music"
    _no_plaintext_audio(agent.data)


@pytest.mark.parametrize("desk", ["monitor only", "no microphone"])
def test_a_desk_with_one_side_of_the_call_keeps_no_voice_and_says_so(
    desk: str, desktop: VirtualDesktop, keystore: None, windows: Windows, pulse: Pulse,
    make_agent: Callable[..., Agent], tmp_path: Path,
) -> None:  # fmt: skip
    """A real baresip call where the agent's softphone records from the sound server's
    fallback, its own output's monitor (no headset microphone), or from no microphone at all:
    the caller's side alone is never kept, and the status, recording.json, the export's words
    and the decoded export agree: no voice, neither side."""
    subprocess.run(["pactl", "set-default-sink", "spk"], env=pulse.env, check=True, timeout=10)
    subprocess.run(["pactl", "set-default-source", "spk.monitor"], env=pulse.env, check=True,
                   timeout=10)  # fmt: skip
    quiet = tmp_path / "quiet-8k.wav"
    _tone(quiet, 0, 60, rate=8000)
    source = "alsa,pulse" if desk == "monitor only" else f"aufile,{quiet}"
    agent, rec, said = _baresip_call(pulse, desktop, make_agent, tmp_path, source, 3.0)
    why = "the monitor of its own output" if desk == "monitor only" else "from no microphone"
    assert said.startswith("no voice") and why in said and "neither side is kept" in said, said
    assert rec["voice"] == said, rec
    out = tmp_path / "call.mp4"
    words = agent.cli("recordings", "export", str(rec["id"]), "--out", str(out),
                      "--reason", "test: one side").stdout  # fmt: skip
    assert "no voice in this recording" in words and "left channel" not in words, words
    assert _audio(out)[0].shape[1] == 0, "nothing of the caller's side is kept"


FLASH_AND_BEEP = r"""
import fcntl, os, subprocess, sys, time
import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QWidget

app = QApplication(["agentapp-sync"])
app.setApplicationName("agentapp-sync")
sound = subprocess.Popen(["pacat", "--playback", "--raw", "--format=s16le", "--rate=48000",
                          "--channels=1", "--latency-msec=20", "--client-name=" + sys.argv[1]],
                         stdin=subprocess.PIPE)
fd = sound.stdin.fileno()
fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ: 4 KB (21 ms) may wait in the pipe, not 680 ms
os.set_blocking(fd, False)
state = {"white": False, "t0": time.monotonic(), "pending": b""}
beep = (np.sin(2 * np.pi * 1000 * np.arange(9600) / 48000) * 12000).astype("<i2").tobytes()
silence = bytes(1920)

class Flash(QWidget):
    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(255, 255, 255) if state["white"] else QColor(0, 0, 0))
        p.end()

w = Flash()
w.setWindowTitle("Sync")
w.setGeometry(200, 200, 320, 240)

def pump():
    if not state["white"] and time.monotonic() - state["t0"] >= 3.0:
        state["white"] = True  # the flash and the beep, in the same instant
        w.repaint()
        state["pending"] = beep
        print("flash", flush=True)
    while True:  # keep the pipe full, never more: what is written is played at once
        chunk = state["pending"] or silence
        try:
            n = os.write(fd, chunk)
        except BlockingIOError:
            return
        if state["pending"]:
            state["pending"] = state["pending"][n:]

t = QTimer()
t.timeout.connect(pump)
t.start(5)
w.show()
QTimer.singleShot(0, lambda: print(int(w.winId()), flush=True))
app.exec()
"""


def test_voice_and_frames_stay_in_sync(
    desktop: VirtualDesktop, keystore: None, pulse: Pulse, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    """A window turns white the moment its program starts a beep on its playback stream: in
    the decoded recording the beep's onset and the first white frame are at most 80 ms apart
    (the frame interval, 33 ms at 30 fps, included)."""
    import sys

    pulse.listen(name=SOFTPHONE)  # its microphone: a voice is kept only with both sides
    env = dict(desktop.env, PULSE_SERVER=pulse.env["PULSE_SERVER"])
    policy = _voice_policy(fps=30, wm_class="agentapp-sync")
    agent = make_agent(policy, env=env).start()
    agent.hook("off-hook", "call-sync")  # the call starts first: the window flashes in it
    helper = subprocess.Popen([sys.executable, "-c", FLASH_AND_BEEP, SOFTPHONE], env=env,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert helper.stdout is not None and helper.stdout.readline().strip().isdigit()
        assert helper.stdout.readline().strip() == "flash"
        time.sleep(1.5)
        agent.hook("on-hook", "call-sync")
        (rec,) = agent.wait_sealed()
    finally:
        helper.kill()
        helper.wait()
    out = tmp_path / "sync.mp4"
    agent.cli("recordings", "export", str(rec["id"]), "--out", str(out), "--reason", "test: sync")
    from agentapp.vault.export import BAND, iter_frames

    white = next(t for t, bgr in iter_frames(out) if bgr[:-BAND].mean() > 128)
    audio, start = _audio(out)
    loud = np.flatnonzero(np.abs(audio[1]) > 0.1)
    assert len(loud), "the beep is in the caller's channel"
    beep = start + loud[0] / RATE
    offset = beep - white
    print(
        f"A/V offset: beep {beep:.3f} s, first white frame {white:.3f} s: {offset * 1000:+.0f} ms"
    )
    assert abs(offset) <= 0.080


def test_a_pbx_recording_attached_plays_at_its_moment_and_leaves_no_plaintext(
    desktop: VirtualDesktop, keystore: None, windows: Windows,
    make_agent: Callable[..., Agent], tmp_path: Path,
) -> None:  # fmt: skip
    """A site that records calls at the PBX (MixMonitor writes an 8 kHz mono WAV): the file,
    whose tone starts 1.0 s into it and which began 0.5 s after the off-hook, is sealed into
    the recording; the export has the tone at 1.5 s (±80 ms), only the training's trainers may
    attach it, it is traced, and the vault holds no WAV."""
    agent = make_agent(policy_text("alice", extra=ACCESS), env=desktop.env).start()
    rec = agent.call("call-pbx", 4.0)
    assert len(agent.recordings()) == 1
    assert rec["voice"] == ""
    pbx = tmp_path / "mixmonitor-call-pbx.wav"
    with wave.open(str(pbx), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        n = np.arange(8000 * 6)
        tone = (np.sin(2 * math.pi * 440 * n / 8000) * 8000).astype("<i2")
        tone[:8000] = 0  # one second of silence first
        w.writeframes(tone.tobytes())
    import datetime as dt

    start = dt.datetime.fromtimestamp(float(rec["started_at"]) + 0.5, dt.UTC).isoformat()  # type: ignore[arg-type]
    rid = str(rec["id"])
    refused = agent.cli("recordings", "attach-voice", rid, str(pbx), "--start", start,
                        "--reason", "test: attach", check=False)  # fmt: skip
    assert refused.returncode == 1 and "may not attach the call's voice" in refused.stderr
    said = agent.cli("recordings", "attach-voice", rid, str(pbx), "--start", start,
                     "--reason", "test: the PBX's file", user="carol").stdout  # fmt: skip
    assert "voice sealed into" in said and "+0.50 s from the off-hook" in said, said
    assert pbx.exists() and "is left at" in said  # the PBX's own file is the PBX's
    (after,) = agent.recordings()
    assert after["voice"] == "attached"
    _no_plaintext_audio(agent.data)
    out = tmp_path / "with-pbx-voice.mp4"
    agent.cli("recordings", "export", rid, "--out", str(out), "--reason", "test: pbx voice",
              user="carol")  # fmt: skip
    audio, t0 = _audio(out)
    loud = np.flatnonzero(np.abs(audio[1]) > 0.05)
    onset = t0 + loud[0] / RATE
    print(f"attached voice: tone onset at {onset:.3f} s (expected 1.500 s)")
    assert abs(onset - 1.5) <= 0.080
    assert not np.abs(audio[0]).max() > 0.01  # a mono mix goes to the caller's channel only
    trail = agent.cli("audit", "show", "--json", user="dan").stdout
    assert "attach voice" in trail and "refused attach voice" in trail
