"""`agentapp demo`: one sample call recorded end to end, on a private virtual display.

Starts Xvfb + openbox + trayer (unless told to use the current display), opens a sample
"business application" window and a "private" window partly over it, enrols the current user
in a sample policy, places a call through the real hook (off-hook, a few seconds, on-hook),
exports the sealed recording and says what is in it — including that no private pixel is.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentapp.demo.sample_window import SampleWindow
from agentapp.files import layout
from agentapp.vault.keys import keystore_problem

BUSINESS = SampleWindow(
    "agentapp-business", "CRM — customer form", (40, 160, 60), (100, 100, 1280, 720)
)
PRIVATE = SampleWindow("agentapp-private", "Private messages", (255, 0, 255), (1000, 500, 700, 450))


def sample_policy(agent: str, wm_class: str, fps: int = 10, weekly_quota: int = 20) -> str:
    """The demo's (and the benchmarks') policy: every call of `agent` on this desk, which may
    run the agent without its tray (headless_desks)."""
    import datetime as dt
    import socket

    today = dt.date.today()
    return f"""\
version = 1
purpose = "training"

[controller]
name = "Demo Contact Center SAS"
contact = "privacy@demo.invalid"
dpo_contact = "dpo@demo.invalid"

[recording]
fps = {fps}
segment_seconds = 30
max_call_minutes = 60
sampling_percent = 100
sampling_reason = "the demo records every call of its one agent"
weekly_quota = {weekly_quota}
review_minutes = 10
record_internal_calls = false
headless_desks = ["{socket.gethostname()}"]

[access]
admins = ["dpo"]

[[trainer]]
name = "trainer"
trainings = ["CRM onboarding (demo)"]
minutes_per_week = {min(weekly_quota * 20, 2400)}  # room to enrol a second trainee

[[application]]
name = "CRM"
wm_class = "{wm_class}"

[[enrolment]]
agent = "{agent}"
training = "CRM onboarding (demo)"
start = {today.isoformat()}
end = {(today + dt.timedelta(days=30)).isoformat()}
"""


def _cli(args: list[str], env: dict[str, str], check: bool = True) -> str:
    r = subprocess.run([sys.executable, "-m", "agentapp", *args], env=env, capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    if check and r.returncode != 0:
        raise RuntimeError(f"agentapp {args[0]} failed: {r.stderr.strip()}")
    return r.stdout.strip()


def private_pixel_count(bgr: object, color: tuple[int, int, int], tol: int = 60) -> int:
    import numpy as np

    assert isinstance(bgr, np.ndarray)
    r, g, b = color
    diff = np.abs(bgr.astype(np.int16) - np.array([b, g, r], np.int16)).max(axis=2)
    return int((diff < tol).sum())


def run_demo(seconds: float = 5.0, keep: Path | None = None) -> int:
    from agentapp.demo.virtual_display import DesktopError, VirtualDesktop, stop_process
    from agentapp.vault.audit import login_name
    from agentapp.vault.export import BAND, iter_frames

    work = keep or Path(tempfile.mkdtemp(prefix="agentapp-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    agent = login_name()  # the OS's, as the agent takes it (not $USER)
    procs: list[subprocess.Popen[str]] = []
    print(f"agentapp demo — working in {work}")
    try:
        desktop = VirtualDesktop().start()
    except DesktopError as exc:
        print(f"agentapp demo: {exc}", file=sys.stderr)
        return 1
    try:
        env = dict(desktop.env, AGENTAPP_DATA_DIR=str(data), AGENTAPP_AGENT=agent)
        print(f"1. virtual desktop {desktop.display} (Xvfb + openbox + trayer)")
        problem = keystore_problem()
        if problem is None:
            print(
                "2. "
                + _cli(["keys", "init"], env).splitlines()[0]
                + " (private key in the OS key store)"
            )
            key_args: list[str] = []
        else:
            pw = work / "demo-passphrase"
            pw.write_text(secrets.token_urlsafe(16))
            pw.chmod(0o600)
            key = work / "recording-private-key.pem"
            _cli(["keys", "init", "--private-out", str(key), "--passphrase-file", str(pw)], env)
            print(f"2. recording key created; no OS key store here ({problem}),")
            print(f"   so the private key is in the passphrase-protected file {key}")
            key_args = ["--key", str(key), "--passphrase-file", str(pw)]
        policy = data / "policy.toml"
        policy.write_text(sample_policy(agent, BUSINESS.wm_class))
        print(f"3. policy {policy}: '{agent}' enrolled, application CRM ({BUSINESS.wm_class})")
        _cli(["notice", "acknowledge", "--lang", "en"], env)
        print("   information notice acknowledged ('agentapp notice show' prints it)")
        p, _x = BUSINESS.spawn(env)
        procs.append(p)
        q, _x = PRIVATE.spawn(env)
        procs.append(q)
        print("4. sample CRM window (green) and a private window (magenta) partly over it")
        log = open(work / "agent-stderr.log", "w")  # noqa: SIM115 - closed with the process
        agent_proc = subprocess.Popen(
            [sys.executable, "-m", "agentapp", "run", "--headless"], env=env,
            stdout=log, stderr=log, text=True,
        )  # fmt: skip
        procs.append(agent_proc)
        sock = layout.hook_socket(data)
        deadline = time.monotonic() + 20
        while not sock.exists():
            if agent_proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not start; see {work / 'agent-stderr.log'}")
            time.sleep(0.05)
        print(f"5. agent running headless (pid {agent_proc.pid})")
        call_id = f"demo-{secrets.token_hex(3)}"
        print(f"6. off-hook → {_cli(['hook', 'off-hook', '--call-id', call_id], env)}")
        time.sleep(seconds)
        answer = _cli(["hook", "on-hook", "--call-id", call_id], env)
        print(f"   on-hook after {seconds:.0f} s → {answer}")
        recs: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            recs = json.loads(_cli(["recordings", "list", "--json"], env))
            if recs and recs[-1]["status"] == "complete":
                break
            time.sleep(0.2)
        if not recs or recs[-1]["status"] != "complete":
            raise RuntimeError("no sealed recording appeared")
        rec = recs[-1]
        seal_files = sorted((data / "recordings" / str(rec["id"])).glob("seg-*.seal"))
        print(f"7. sealed recording {rec['id']}: {len(seal_files)} encrypted segment(s), "
              f"{rec['size_bytes']} bytes on disk")  # fmt: skip
        out = work / f"{rec['id']}.mp4"
        _cli(["recordings", "export", str(rec["id"]), "--out", str(out),
              "--reason", "demo: show what was recorded", *key_args], env)  # fmt: skip
        frames, first, last, leaked = 0, None, 0.0, 0
        for t, bgr in iter_frames(out):
            frames += 1
            first = t if first is None else first
            last = t
            leaked += private_pixel_count(bgr, PRIVATE.color)
        h, w = bgr.shape[:2]
        print(f"8. exported to {out} and decoded:")
        print(f"   {frames} frames of {w}x{h - BAND} (the CRM window only) + a {BAND}-px watermark "
              f"band, from {first:.2f} s to {last:.2f} s after off-hook; call lasted "
              f"{rec['duration_s']} s")  # fmt: skip
        print(f"   private-window pixels in the video: {leaked}"
              + ("  ✓ none" if leaked == 0 else "  ✗ LEAK"))  # fmt: skip
        print(f"9. {_cli(['audit', 'verify'], dict(env, AGENTAPP_USER='dpo'))}")
        return 0 if leaked == 0 and frames > 0 else 1
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"agentapp demo: {exc}", file=sys.stderr)
        return 1
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        desktop.stop()
        if keep is None:
            print(f"(demo files left in {work}; remove them with: rm -r {work})")
        os.sync()


def make_sample_site(trainer: Path, site: Path, policy_text: str, agent: str) -> None:
    """A trainer's keys (private halves in the OS key store), a site with `policy_text`
    signed, and one sealed 1-second recording of `agent` (green frames, a pause at 0.3–0.5 s).
    For the console's screenshots and tests; raises KeyProblem without a key store."""
    import datetime as dt

    import numpy as np
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from agentapp.capture.encoder import SegmentEncoder
    from agentapp.core.policy import parse_policy
    from agentapp.core.videopack import pack
    from agentapp.site.signing import PUBLIC_FILE, sign, store_private, write_public
    from agentapp.site.sync import site_policy_path
    from agentapp.vault.keys import public_key_path, store_private_in_keystore, write_public_key
    from agentapp.vault.sink import SealingSink
    from agentapp.vault.store import Vault

    recording_key = X25519PrivateKey.generate()
    store_private_in_keystore(recording_key)
    write_public_key(recording_key.public_key(), public_key_path(trainer))
    signing = Ed25519PrivateKey.generate()
    store_private(signing)
    write_public(signing.public_key(), trainer / "keys" / PUBLIC_FILE)
    site_policy_path(site).parent.mkdir(parents=True)
    site_policy_path(site).write_bytes(sign(policy_text.encode(), signing))
    enrolment = parse_policy(policy_text).enrolment_for(agent)
    w = Vault(site / "recordings").begin(
        agent, dt.datetime.now().timestamp() - 600, "CRM", 183,
        training=enrolment.training if enrolment else "",
    )  # fmt: skip
    enc = SegmentEncoder(320, 200, 10)
    for i in range(10):
        frame = np.zeros((200, 320, 4), np.uint8)
        frame[:] = (60, 160, 40, 255)  # BGRA: the sample CRM green
        frame[20:36, 20 : 60 + 20 * i] = 255  # a growing white bar: it moves
        enc.add(frame, i * 100)
    SealingSink(w, recording_key.public_key()).append(1, 0, pack(320, 200, enc.flush()), 10, True)
    w.finish(1.0, [(0.3, 0.5)], "on-hook")
