"""The vault's life cycle with the real agent, real windows, real key store (R7–R9, R12).

Roles through every command, the audit trail and its tampering, an anonymised export decoded
pixel by pixel, a kill -9 mid-call, and a disk that fills up mid-call.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from agentapp.demo.virtual_display import VirtualDesktop
from agentapp.vault.export import BAND, iter_frames
from tests.integration.conftest import BUSINESS, Agent, Windows, window_shot
from tests.policies import ACCESS, policy_text

TEXT = (20, 20, 420, 110)  # where the sample window draws its title and clock (window coords)
BANNED = [b"ftyp", b"moov", b"mdat", b"x264", b"Lavf", b"Lavc"]  # plaintext video signatures


def _record(agent: Agent, call: str, seconds: float = 2.0) -> str:
    return str(agent.call(call, seconds)["id"])


def _white(bgr: np.ndarray) -> float:
    return float((bgr.min(axis=2) > 200).mean())


def _sharpness(bgr: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_roles_audit_trail_and_anonymised_export(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    agent = make_agent(policy_text("alice", extra=ACCESS), env=desktop.env).start()
    rid = _record(agent, "call-roles")

    # Another trainee sees nothing and can do nothing, through any command.
    assert json.loads(agent.cli("recordings", "list", "--json", user="bob").stdout) == []
    for args in (
        ["recordings", "export", rid, "--out", str(tmp_path / "b.mp4"), "--reason", "curious"],
        ["recordings", "export", rid, "--anonymise", "--out", str(tmp_path), "--reason", "share"],
        ["recordings", "delete", rid, "--reason", "cleaning up"],
        ["notes", "add", rid],
        ["audit", "show"],
        ["audit", "verify"],
    ):
        r = agent.cli(*args, check=False, user="bob")
        assert r.returncode == 1 and ("may not" in r.stderr or "only an admin" in r.stderr), r
    assert not list(tmp_path.glob("*.mp4"))

    # The trainee sees their own recording; the export is watermarked with who and when.
    own = tmp_path / "own.mp4"
    agent.cli("recordings", "export", rid, "--out", str(own), "--reason", "my own review")
    with av.open(str(own)) as c:
        assert "alice" in c.metadata.get("comment", "")
    plain = [bgr for _, bgr in iter_frames(own)]
    x, y, w, h = TEXT
    assert _white(plain[-1][y : y + h, x : x + w]) > 0.01  # the window's text is readable

    # The trainer shares it with other trainees: anonymised, blurred, watermarked.
    share = tmp_path / "share"
    share.mkdir()
    blur = ",".join(map(str, TEXT))
    out = agent.cli("recordings", "export", rid, "--anonymise", "--blur", blur, "--out",
                    str(share), "--reason", "session 3: greeting", user="carol").stdout  # fmt: skip
    (made,) = share.iterdir()
    assert "alice" not in made.name and rid not in made.name and "anonymised" in out
    with av.open(str(made)) as c:
        tags = json.dumps(dict(c.metadata)) + json.dumps(dict(c.streams.video[0].metadata))
    assert "alice" not in tags and "carol" in tags and "ANONYMISED" in tags
    assert b"alice" not in made.read_bytes()
    anon = [bgr for _, bgr in iter_frames(made)]
    assert len(anon) == len(plain)
    bh = BUSINESS.geometry[3]
    for a, p in zip(anon, plain, strict=True):
        region, before = a[y : y + h, x : x + w], p[y : y + h, x : x + w]
        assert _white(region) == 0.0  # no stroke of the text survives
        assert _sharpness(region) < _sharpness(before) / 10
        # outside the rectangle the picture is untouched (codec noise only)
        assert np.abs(a[250:440, 450:790].astype(int) - p[250:440, 450:790]).mean() < 3
        assert a.shape[0] == bh + BAND and _white(a[bh + 2 :]) > 0.01  # the watermark

    # The trainer annotates; the admin/DPO verifies the trail but never sees the video.
    r = subprocess.run(
        [sys.executable, "-m", "agentapp", "notes", "add", rid], input="good greeting; slow search",
        env=dict(agent.env, AGENTAPP_USER="carol"), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    note = r.stdout.split()[1]  # "note <id> sealed; …"
    r = agent.cli("notes", "show", note, "--reason", "just curious", check=False, user="bob")
    assert r.returncode == 1 and f"may not read note {note}" in r.stderr, r
    r = agent.cli("recordings", "export", rid, "--out", str(tmp_path / "d.mp4"), "--reason",
                  "just looking", check=False, user="dan")  # fmt: skip
    assert r.returncode == 1 and "metadata, not their video" in r.stderr
    assert "audit trail intact" in agent.cli("audit", "verify", user="dan").stdout
    trail = json.loads(agent.cli("audit", "show", "--json", user="dan").stdout)
    did = {(e["who"], e["action"]) for e in trail}
    assert ("bob", "refused notes", note) in {(e["who"], e["action"], e["target"]) for e in trail}
    for expected in [
        ("alice", "recording started"), ("alice", "recording stopped"),
        ("alice", "notice acknowledged"), ("alice", "policy adopted"), ("bob", "list"),
        ("bob", "refused export"),
        ("bob", "refused delete"), ("alice", "export"), ("carol", "export anonymised"),
        ("carol", "add note"), ("dan", "refused export"), ("dan", "audit verify"),
    ]:  # fmt: skip
        assert expected in did, f"{expected} not traced: {sorted(did)}"
    share_entry = next(e for e in trail if e["action"] == "export anonymised")
    assert share_entry["reason"] == "session 3: greeting" and share_entry["role"] == "trainer"
    assert all(e["login"] for e in trail)  # the real OS login beside the name given
    assert "good greeting" not in (agent.data / "audit.jsonl").read_text()

    # The admin deletes on an erasure request; the deletion is traced.
    agent.cli("recordings", "delete", rid, "--reason", "erasure request #12", user="dan")
    assert agent.recordings() == [] and not (agent.data / "recordings" / rid).exists()

    # Tampering with the trail is found, and where.
    path = agent.data / "audit.jsonl"
    lines = path.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["reason"] = "nothing to see"
    path.write_text("\n".join([*lines[:2], json.dumps(entry), *lines[3:]]) + "\n")
    r = agent.cli("audit", "verify", check=False, user="dan")
    assert r.returncode == 1 and "BROKEN at entry 3" in r.stdout
    path.write_text("\n".join(lines[:-2]) + "\n")  # the last two entries cut off
    r = agent.cli("audit", "verify", check=False, user="dan")
    assert r.returncode == 1 and "are missing" in r.stdout


def test_kill_9_mid_call_leaves_only_sealed_segments_recovered_at_restart(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    agent = make_agent(policy_text("alice", segment_seconds=5, extra=ACCESS), env=desktop.env)
    agent.start()
    agent.hook("off-hook", "call-crash")
    root = agent.data / "recordings"
    deadline = time.monotonic() + 20
    while len(list(root.rglob("seg-*.seal"))) < 1:
        assert time.monotonic() < deadline, "no segment sealed"
        time.sleep(0.1)
    time.sleep(1.5)  # well into the second segment, which lives only in memory
    assert agent.proc is not None
    os.kill(agent.proc.pid, signal.SIGKILL)
    agent.proc.wait(timeout=10)

    for path in root.rglob("*"):  # what a power cut would leave: ciphertext only
        if path.is_file():
            data = path.read_bytes()
            assert not any(sig in data for sig in BANNED), path
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    assert json.loads((folder / "recording.json").read_text())["status"] == "recording"

    agent.start()  # restart: the vault is put in order before any event is served
    agent.wait_log("was interrupted by a stop")
    (rec,) = agent.recordings()
    assert rec["status"] == "interrupted" and int(rec["segments"]) >= 1  # type: ignore[call-overload]
    assert not list(root.rglob(".*.tmp"))
    frames = [t for t, _ in iter_frames(_export(agent, str(rec["id"]), tmp_path))]
    assert frames and max(frames) - min(frames) <= 5.0 + 0.2  # the first segment, no more
    assert "audit trail intact" in agent.cli("audit", "verify", user="dan").stdout
    actions = [e["action"] for e in json.loads(agent.cli("audit", "show", "--json",
                                                         user="dan").stdout)]  # fmt: skip
    assert "recording interrupted" in actions


def _export(agent: Agent, rid: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{rid}.mp4"
    agent.cli("recordings", "export", rid, "--out", str(out), "--reason", "test: crash check")
    return out


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 80 MB tmpfs: a disk that can really fill up."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=80m,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)  # fmt: skip
    if r.returncode != 0:  # not root, or a sandbox without mounts: the unit test covers ENOSPC
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()})")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_mid_call_stops_recording_and_keeps_what_was_sealed(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path, small_disk: Path, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    agent = make_agent(policy_text("alice", segment_seconds=5), env=desktop.env)
    # the recordings on a disk of their own, mounted in place (a link there would be refused)
    recordings = agent.data / "recordings"
    recordings.mkdir(mode=0o700, exist_ok=True)  # (the agent makes it at its start)
    subprocess.run(["mount", "--bind", str(small_disk), str(recordings)], check=True)
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(recordings)], check=False))
    agent.start()
    agent.hook("off-hook", "call-full")
    deadline = time.monotonic() + 20
    while not list(small_disk.rglob("seg-*.seal")):
        assert time.monotonic() < deadline, "no segment sealed"
        time.sleep(0.1)
    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # fill the disk to the last byte
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
    assert shutil.disk_usage(small_disk).free < 1 << 20
    deadline = time.monotonic() + 15
    while "disk full" not in agent.status():
        assert time.monotonic() < deadline, agent.status()
        time.sleep(0.2)
    agent.hook("on-hook", "call-full")
    reply = agent.hook("off-hook", "call-next")
    if reply != "ok: not recording (disk full)":  # answered while the last one still sealed
        assert "decided once the previous recording is sealed" in reply, reply
        agent.wait_log("ok: not recording (disk full)")
    agent.hook("on-hook", "call-next")
    agent.stop()

    filler.unlink()  # space again: the sealed part is intact and readable
    agent.start()
    (rec,) = agent.recordings()
    assert int(rec["segments"]) >= 1  # type: ignore[call-overload]
    assert not list(small_disk.rglob(".*.tmp"))
    assert list(iter_frames(_export(agent, str(rec["id"]), tmp_path)))


@pytest.fixture
def fragile_disk(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A 256 MB ext4 on a loop device, mounted with errors=remount-ro as a desk's disk is: its
    mount point, and the kernel's switch that makes it meet an error (it turns read-only at
    once, open files or not)."""
    image, mnt = tmp_path / "disk.img", tmp_path / "fragile"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(256 << 20)  # sparse; above the 64 MB a call needs free
    made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True, text=True)
    mounted = made.returncode == 0 and subprocess.run(
        ["mount", "-o", "loop,errors=remount-ro", str(image), str(mnt)],
        capture_output=True, text=True,
    ).returncode == 0  # fmt: skip
    if not mounted:  # not root, no loop devices, no mkfs.ext4
        pytest.skip(f"cannot mount an ext4 image here ({made.stderr.strip()})")
    device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mnt)], capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    switch = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
    if not switch.exists():
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        pytest.skip(f"this kernel has no {switch}")
    yield mnt, switch
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_recordings_folder_turned_read_only_mid_call_keeps_the_desk_on_cannot_record(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    fragile_disk: tuple[Path, Path], request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    """A disk error turns the recordings' file system read-only during a call: the desk
    says it cannot record, and keeps saying so (not "waiting for a call") until it can
    write again; doctor says why."""
    disk, switch = fragile_disk
    agent = make_agent(policy_text("alice", segment_seconds=5), env=desktop.env)
    recordings = agent.data / "recordings"
    recordings.mkdir(mode=0o700, exist_ok=True)  # (the agent makes it at its start)
    subprocess.run(["mount", "--bind", str(disk), str(recordings)], check=True)
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(recordings)], check=False))
    agent.start()

    def status() -> dict[str, str]:
        return json.loads(agent.status())  # type: ignore[no-any-return]

    assert agent.hook("off-hook", "call-ro") == "ok: recording"
    deadline = time.monotonic() + 20
    while not list(disk.rglob("seg-*.seal")):
        assert time.monotonic() < deadline, "no segment sealed"
        time.sleep(0.1)
    switch.write_text("1")  # the disk meets an error: read-only from now on
    deadline = time.monotonic() + 15
    while status()["state"] != "cannot_record":
        assert time.monotonic() < deadline, status()
        time.sleep(0.2)
    agent.hook("on-hook", "call-ro")
    time.sleep(6)  # three of the idle agent's looks at its readiness
    now = status()
    assert now["state"] == "cannot_record", now
    assert "cannot write recordings" in now["detail"] and "Read-only" in now["detail"], now
    assert agent.hook("off-hook", "call-ro-2").startswith("ok: not recording"), now
    agent.hook("on-hook", "call-ro-2")
    checks = {c["name"]: c for c in json.loads(agent.cli("doctor", "--json", check=False).stdout)}
    assert not checks["writable"]["ok"] and "Read-only" in checks["writable"]["detail"]

    # IT takes the broken disk away: the folder beneath it can be written, and the desk says so
    subprocess.run(["umount", "-l", str(recordings)], check=True)
    deadline = time.monotonic() + 10
    while status()["state"] != "waiting":
        assert time.monotonic() < deadline, status()
        time.sleep(0.2)
    assert agent.hook("off-hook", "call-rw") == "ok: recording"
    agent.hook("on-hook", "call-rw")


def test_view_plays_the_recording_in_a_window_and_is_traced(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
) -> None:  # fmt: skip
    agent = make_agent(policy_text("alice", extra=ACCESS), env=desktop.env).start()
    rid = _record(agent, "call-view", seconds=3.0)
    r = agent.cli("recordings", "view", rid, "--reason", "peeking", check=False, user="bob")
    assert r.returncode == 1 and "may not view" in r.stderr
    env = dict(agent.env, AGENTAPP_USER="alice")
    player = subprocess.Popen([sys.executable, "-m", "agentapp", "recordings", "view", rid,
                               "--reason", "my own review"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        shot = window_shot(f"agentapp — recording {rid}", desktop.env,
                           lambda: player.poll() is None)  # fmt: skip
        assert isinstance(shot, np.ndarray), player.communicate()
        green = (np.abs(shot.astype(int) - (60, 160, 40)).max(axis=2) < 30).mean()
        assert green > 0.2, green  # the business window, played back from memory
    finally:
        player.terminate()
        player.wait(timeout=10)
    trail = json.loads(agent.cli("audit", "show", "--json", user="dan").stdout)
    views = [(e["who"], e["action"], e["reason"]) for e in trail if "view" in e["action"]]
    assert ("bob", "refused view", "this recording is not yours and you are not a trainer "
            "of its training") in views and ("alice", "view", "my own review") in views  # fmt: skip
    assert not list(agent.data.rglob("*.mp4"))  # viewing writes no file
