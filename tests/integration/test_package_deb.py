"""The Linux package as IT deploys it: built from this tree (PyInstaller bundle + dpkg-deb),
preseeded, installed with `dpkg -i` on this machine, run from /usr/bin with no Python of
ours, a real call recorded and delivered to the site, then removed and purged.

Needs root (it installs a system package); outside CI it is skipped otherwise. The package is
always purged at the end, even when an assertion fails."""

from __future__ import annotations

import getpass
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agentapp import __version__
from agentapp.demo.sample_window import SampleWindow
from agentapp.demo.virtual_display import VirtualDesktop, stop_process
from tests.gnome import GnomeSession, missing_tools
from tests.integration.conftest import Agent, Windows, need, wait_until
from tests.pixels import near
from tests.policies import ACCESS, policy_text

ROOT = Path(__file__).resolve().parents[2]
BIN = Path("/usr/bin/agentapp")
OPT = Path("/opt/agentapp")
ETC = Path("/etc/agentapp")
AUTOSTART = Path("/etc/xdg/autostart/agentapp.desktop")
PURGE_TIMER = Path("/etc/systemd/system/timers.target.wants/agentapp-site-purge@root.timer")
GREEN_BGR = np.array([60, 160, 40], np.int16)
MAGENTA_BGR = np.array([255, 0, 255], np.int16)


def _installed() -> bool:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "agentapp"],
                       capture_output=True, text=True)  # fmt: skip
    return "installed" in r.stdout or "config-files" in r.stdout or "half" in r.stdout


def _dpkg(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["dpkg", *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, f"dpkg {' '.join(args)}: {r.stdout}\n{r.stderr}"
    return r


def _preseed(**answers: str) -> None:
    lines = "".join(f"agentapp agentapp/{k} string {v}\n" for k, v in answers.items())
    subprocess.run(["debconf-set-selections"], input=lines, text=True, check=True)


class _Build:
    """A build of the package from this tree into `out`, in the background."""

    def __init__(self, out: Path, cache: Path) -> None:
        self.out = out
        env = dict(os.environ, DEB_COMPRESSION="gzip", DEB_COMPRESSION_LEVEL="1",
                   AGENTAPP_BUILD_CACHE=str(cache))  # fmt: skip
        self.proc = subprocess.Popen(["bash", str(ROOT / "scripts/build-deb.sh"), str(out)],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)  # fmt: skip

    def wait(self) -> Path:
        said, _ = self.proc.communicate(timeout=900)
        assert self.proc.returncode == 0, f"build-deb.sh failed:\n{said}"
        (pkg,) = self.out.glob("agentapp_*.deb")
        return pkg

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def builds(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, _Build | None]]:
    """The package, built from this tree (or $AGENTAPP_DEB, already built), and, when the
    reproducibility test is to run, a second build from the same tree in other folders,
    started once the first is done (while the tests of the first run): it reuses the first's
    dpkg-shlibdeps answer (scripts/deb_depends.py: kept under a digest of the ELF files and
    the installed packages, so the same bytes give the same answer), about 50 CPU seconds
    the suite's other tests have instead."""
    need(os.geteuid() == 0, "installing a .deb needs root")
    for tool in ("dpkg-deb", "debconf-set-selections"):
        need(shutil.which(tool) is not None, f"{tool} is not installed")
    need(not _installed(), "agentapp is already installed on this machine (dpkg -P agentapp)")
    given = os.environ.get("AGENTAPP_DEB")
    if given:
        yield Path(given), None
        return
    twice = any(item.name == "test_the_package_builds_the_same_twice"
                for item in request.session.items)  # fmt: skip
    cache = tmp_path_factory.mktemp("build-cache")
    first = _Build(tmp_path_factory.mktemp("deb"), cache)
    second = None
    try:
        pkg = first.wait()
        second = _Build(tmp_path_factory.mktemp("again"), cache) if twice else None
        yield pkg, second
    finally:
        first.stop()
        if second is not None:
            second.stop()


@pytest.fixture(scope="module")
def deb(builds: tuple[Path, _Build | None]) -> Path:
    return builds[0]


# Copied libraries that must come from Debian instead (security updates), by file name.
SYSTEM_COPIES = ("libssl.", "libcrypto.", "libkrb5.", "libgssapi_krb5.", "libsystemd.",
                 "libglib-2.0.", "libgio-2.0.", "libX11.", "libxcb.so", "libfontconfig.",
                 "libfreetype.", "libstdc++.", "libgcc_s.", "libz.so", "libpq.")  # fmt: skip
MAX_INSTALLED_MB = 300


def _elves(root: Path) -> list[Path]:
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            with p.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    out.append(p)
    return out


def _dep5(text: str) -> list[dict[str, str]]:
    """The paragraphs of a machine-readable copyright file (fields; continuation lines kept)."""
    paragraphs = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t"):
                fields[key] += "\n" + line.strip()
            else:
                key, _sep, value = line.partition(":")
                fields[key] = value.strip()
        paragraphs.append(fields)
    return paragraphs


def _licence_names(expression: str) -> set[str]:
    names = expression.splitlines()[0].replace(" or ", " and ").split(" and ")
    return {n.strip() for n in names}


def test_the_package_is_lintian_clean_links_debian_libraries_and_states_its_licences(
    deb: Path, tmp_path: Path
) -> None:
    """What IT checks before approving the package, on the built .deb."""
    need(shutil.which("lintian") is not None, "lintian is not installed")
    # Every check but the spelling of the binaries' strings (a third of lintian's time here,
    # and it gives only I: tags, which neither show nor fail).
    r = subprocess.run(["lintian", "--tag-display-limit", "0", "--show-overrides",
                        "--dont-check-part", "binaries/spelling", str(deb)],
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    tags = [line for line in r.stdout.splitlines() if line[:2] in ("E:", "W:", "O:")]
    overridden = sorted({" ".join(t.split()[:3]) for t in tags if t.startswith("O:")})
    print("lintian overrides in force (installer/linux/lintian-overrides):", *overridden,
          sep="\n  ")  # fmt: skip
    # (its status is 2 when overridden tags are shown, so the tags are the verdict)
    assert r.returncode in (0, 2) and "Traceback" not in r.stderr, r.stderr
    assert not [t for t in tags if not t.startswith("O:")], "\n".join(tags)

    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    bundle = root / "opt/agentapp"
    elves = _elves(bundle)
    assert len(elves) > 100
    # No RUNPATH of the build machine's: only $ORIGIN-relative ones, which stay in the bundle;
    # no end-of-life OpenSSL linked anywhere (OpenCV's wheel brought 1.1.1k).
    for elf in elves:
        dyn = subprocess.run(["readelf", "-d", str(elf)], capture_output=True, text=True).stdout
        assert "libssl.so.1" not in dyn and "libcrypto.so.1" not in dyn, elf
        for line in dyn.splitlines():
            if "RUNPATH" in line or "RPATH" in line:
                for entry in line.split("[", 1)[1].rstrip("]").split(":"):
                    assert entry.startswith("$ORIGIN"), f"{elf}: RUNPATH {entry}"
                    where = Path(entry.replace("$ORIGIN", str(elf.parent))).resolve()
                    assert where.is_relative_to(bundle.resolve()), f"{elf}: RUNPATH {entry}"
    # Debian's own libraries, not copies: none in the bundle, all in Depends.
    copies = [p for p in bundle.rglob("*") if p.name.startswith(SYSTEM_COPIES)]
    assert not copies, copies
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    for package in (
        "libssl3",
        "libgssapi-krb5-2",
        "libglib2.0-0",
        "libx11-6",
        "libxcb1",
        "libfontconfig1",
        "libstdc++6",
        "libxcb-shm0",
        "fonts-dejavu-core",
        "libpq5",  # the hub client (psycopg)
    ):
        assert package in depends, (package, depends)
    assert not list(bundle.rglob("cv2*")) and not list(bundle.rglob("opencv*"))
    size_kb = int(subprocess.run(["dpkg-deb", "-f", str(deb), "Installed-Size"],
                                 capture_output=True, text=True, check=True).stdout)  # fmt: skip
    print(f"installed size: {size_kb / 1024:.0f} MB (at most {MAX_INSTALLED_MB} MB)")
    assert size_kb / 1024 <= MAX_INSTALLED_MB

    # The copyright file: machine-readable; every ELF file of the bundle under a paragraph of
    # its own (not agentapp's `*`); every licence named has its text; the whole is GPL-3+.
    doc = root / "usr/share/doc/agentapp"
    paragraphs = _dep5((doc / "copyright").read_text())
    assert paragraphs[0]["Format"].startswith("https://www.debian.org/doc/packaging-manuals/")
    assert "GPL-3+" in paragraphs[0]["Comment"] and "SOURCE-OFFER" in paragraphs[0]["Comment"]
    files = [p for p in paragraphs if "Files" in p]
    texts = {p["License"].splitlines()[0] for p in paragraphs if "Files" not in p and
             "License" in p}  # fmt: skip
    for p in files:
        assert _licence_names(p["License"]) <= texts, p["License"]
    from fnmatch import fnmatchcase

    for elf in elves:
        rel = str(elf.relative_to(root))
        owners = [p for p in files[1:] if any(fnmatchcase(rel, g) for g in p["Files"].split())]
        assert owners, f"{rel} has no paragraph in the copyright file"
    import av

    offer = (doc / "SOURCE-OFFER").read_text()
    assert f"FFmpeg {av.ffmpeg_version_info}" in offer and f"PyAV {av.__version__}" in offer


def _digests(root: Path) -> dict[str, str]:
    import hashlib

    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(root))] = "-> " + os.readlink(p)
        elif p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_the_package_builds_the_same_twice(
    builds: tuple[Path, _Build | None], tmp_path: Path
) -> None:
    """Reproducible on this Debian (12, the oldest supported): a second build from the same
    tree and environment, in other temporary folders, is the same file byte for byte."""
    deb, again = builds
    need(again is not None, "the package under test was built elsewhere")
    assert again is not None
    second = again.wait()
    if second.read_bytes() == deb.read_bytes():
        return
    trees = []
    for name, pkg in (("one", deb), ("two", second)):
        subprocess.run(["dpkg-deb", "-R", str(pkg), str(tmp_path / name)], check=True)
        trees.append(_digests(tmp_path / name))
    differ = sorted(k for k in trees[0].keys() | trees[1].keys()
                    if trees[0].get(k) != trees[1].get(k))  # fmt: skip
    raise AssertionError(
        f"two builds differ in {len(differ)} files: {differ[:20]}"
        if differ
        else "two builds differ in the archive only (times, order)"
    )


def _records_under_gnome_wayland(
    env: dict[str, str], home: Path, site: Path, reviewer: Agent, tmp_path: Path
) -> None:
    """The installed agent on GNOME Shell under Wayland: the package's own desk extension
    (enabled by its GSettings default, answering /opt/agentapp/agentapp only) and Mutter's
    ScreenCast through Debian's PyGObject and GStreamer."""
    missing = missing_tools()
    need(not missing, f"GNOME Shell on Wayland needs {', '.join(missing)}")
    with GnomeSession(size=(1024, 640), installed=True) as gnome:
        genv = dict(gnome.env, QT_QPA_PLATFORM="wayland")
        shown = [SampleWindow("agentapp-business", "CRM — form", (40, 160, 60),
                              (100, 100, 640, 400)).spawn(genv)[0]]  # fmt: skip
        time.sleep(0.5)
        shown.append(SampleWindow("other-app", "Private mail", (255, 0, 255),
                                  (300, 200, 640, 400), still=True).spawn(genv)[0])  # fmt: skip
        time.sleep(1.0)
        ghome = home / "gnome"
        ghome.mkdir()
        desk = {k: v for k, v in gnome.env.items() if not k.startswith("AGENTAPP_")}
        desk.update(HOME=str(ghome), PATH="/usr/bin:/bin", PYTHONPATH="")
        agent = Installed(Path(gnome.env["XDG_DATA_HOME"]) / "agentapp", desk)  # its default
        before = {p.name for p in (site / "recordings").glob("2*")}
        agent.start()
        try:
            wait_until(lambda: (agent.data / "policy.toml").exists(), "no site policy (GNOME)")
            agent.cli("notice", "acknowledge")
            said = agent.cli("doctor", "--json", check=False).stdout
            doctor = {c["name"]: c for c in json.loads(said)}
            assert doctor["capture"]["ok"] and "ScreenCast" in doctor["capture"]["detail"], said
            failed = [c for c in doctor.values() if not c["ok"]]
            assert not failed, failed
            assert agent.hook("off-hook", "pkg-gnome") == "ok: recording"
            time.sleep(2.0)
            agent.hook("on-hook", "pkg-gnome")
            wait_until(lambda: {p.name for p in (site / "recordings").glob("2*")} - before,
                       "the GNOME recording did not reach the site")  # fmt: skip
        finally:
            agent.stop()
            for proc in shown:
                stop_process(proc)
    (rid,) = {p.name for p in (site / "recordings").glob("2*")} - before
    frames = reviewer.frames(rid, tmp_path / "gnome.mp4")
    assert len(frames) >= 5
    for _, bgr in frames:
        assert not near(bgr, MAGENTA_BGR, 80).any()
    assert near(frames[-1][1], GREEN_BGR, 25).mean() > 0.5


@pytest.fixture
def purged() -> Iterator[None]:
    yield
    if _installed():
        _dpkg("--purge", "agentapp", check=False)
    PURGE_TIMER.unlink(missing_ok=True)


@pytest.fixture
def home() -> Iterator[Path]:
    """The installed agent's home: short, as its hook socket's path must fit in 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="aa-home-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Installed(Agent):
    """The installed command (/usr/bin/agentapp), not this tree's Python package."""

    def cli(
        self, *args: str, check: bool = True, user: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([str(BIN), *args], env=self.env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
        if check:
            assert r.returncode == 0, f"agentapp {' '.join(args)}: {r.stderr}"
        return r

    def start(self, headless: bool = True) -> Agent:
        argv = [str(BIN), "run", *(["--headless"] if headless else [])]
        self.console = Path(self.env["HOME"]) / "agent-console.txt"
        with self.console.open("w") as out:
            self.proc = subprocess.Popen(argv, env=self.env, stdout=out, stderr=out, text=True)
        return self


def test_deb_installs_preseeded_records_a_call_and_uninstalls(
    deb: Path, purged: None, desktop: VirtualDesktop, keystore: None, windows: Windows,
    tmp_path: Path, home: Path,
) -> None:  # fmt: skip
    # The trainer's side, with this tree's CLI: keys and a signed policy at the site.
    trainer = Agent(tmp_path / "trainer", dict(desktop.env, AGENTAPP_DATA_DIR=str(
        tmp_path / "trainer"), AGENTAPP_USER="carol"))  # fmt: skip
    trainer.data.mkdir()
    trainer.cli("keys", "init")
    trainer.cli("keys", "signing-init")
    site = tmp_path / "site"
    site.mkdir()
    login = getpass.getuser()
    draft = tmp_path / "draft.toml"
    draft.write_text(policy_text(login, extra=ACCESS))
    trainer.cli("policy", "publish", str(draft), "--site", str(site))
    keys = trainer.data / "keys"
    recording_line = (keys / "recording-public-key.pem").read_text().splitlines()[1]

    # 1. A wrong answer: the install stops with one clear line and writes no settings;
    #    IT fixes the answer and finishes with `dpkg --configure`.
    _preseed(site_folder=str(site), event_source="hook",
             recording_public_key=str(keys / "policy-signing-public-key.pem"),
             policy_signing_key=str(keys / "policy-signing-public-key.pem"))  # fmt: skip
    r = _dpkg("-i", str(deb), check=False)
    assert r.returncode != 0
    assert "machine settings refused, nothing written: recording public key: not an X25519" in (
        r.stdout + r.stderr)  # fmt: skip
    assert "Traceback" not in r.stdout + r.stderr
    assert not (ETC / "agent.toml").exists()
    _preseed(recording_public_key=recording_line)
    _dpkg("--configure", "agentapp")

    # 2. What was installed, and how.
    assert BIN.is_symlink() and BIN.resolve() == OPT / "agentapp"
    for path in [OPT, *OPT.rglob("*")]:
        if path == OPT / "system-gi/gi":  # Debian's PyGObject (python3-gi), by design
            assert os.readlink(path) == "/usr/lib/python3/dist-packages/gi"
            continue
        if path.is_symlink():  # a symlink's own mode means nothing
            assert path.resolve().is_relative_to(OPT), f"{path} points out of the bundle"
            continue
        st = path.stat()
        assert st.st_uid == 0 and not st.st_mode & 0o022, f"{path} is writable by others"
    entry = AUTOSTART.read_text()
    assert "Exec=/usr/bin/agentapp run" in entry and "TryExec=/usr/bin/agentapp" in entry
    assert "GenericName[fr]=Enregistreur pour la formation" in entry  # French desks
    console = Path("/usr/share/applications/agentapp-console.desktop").read_text()
    assert "Name[fr]=Console du formateur agentapp" in console
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Recommends"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert "gnome-keyring | libkf5wallet-bin" in fields and "kwalletmanager" not in fields
    import gzip

    manual = gzip.decompress(Path("/usr/share/man/man1/agentapp.1.gz").read_bytes()).decode()
    assert manual.startswith(".TH AGENTAPP") and "attach\\-voice" in manual  # from the parser
    changelog = gzip.decompress(Path("/usr/share/doc/agentapp/changelog.gz").read_bytes())
    assert changelog.startswith(b"agentapp (")
    assert f'folder = "{site}"' in (ETC / "agent.toml").read_text()
    for name in ("recording-public-key.pem", "policy-signing-public-key.pem"):
        assert (ETC / name).read_bytes() == (keys / name).read_bytes()
        assert stat.S_IMODE((ETC / name).stat().st_mode) == 0o644
    env = {k: v for k, v in desktop.env.items() if not k.startswith(("AGENTAPP_", "XDG_"))}
    env.update(HOME=str(home), PATH="/usr/bin:/bin", PYTHONPATH="")
    data = home / ".local/share/agentapp"  # the default data folder of the installed agent
    agent = Installed(data, env)
    assert agent.cli("--version").stdout.strip() == f"agentapp {__version__}"
    # the bundle's hub client: psycopg on Debian's libpq5, against a port where no hub is
    (home / "hub-ca.pem").write_text("not a certificate\n")
    (home / "hub-pw").write_text("secret\n")
    r = agent.cli("hub", "login", "--hub", "postgresql://127.0.0.1:9/agentapp", "--user", "d",
                  "--ca", str(home / "hub-ca.pem"), "--password-file", str(home / "hub-pw"),
                  check=False)  # fmt: skip
    assert r.returncode == 1 and "did not answer" in r.stderr, r.stderr

    # 3. The installed agent, headless, on the virtual desktop: it fetches the site policy,
    #    the agent reads the notice, a call is recorded and delivered to the site.
    agent.start()
    try:
        wait_until(lambda: (data / "run" / "hook.sock").exists() or agent.proc.poll() is not None,
              "the installed agent did not start")  # fmt: skip
        assert agent.proc.poll() is None, agent.console.read_text()
        wait_until(lambda: (data / "policy.toml").exists(), "the site policy did not arrive")
        agent.cli("notice", "acknowledge")
        doctor = {c["name"]: c for c in json.loads(agent.cli("doctor", "--json").stdout)}
        assert f"bundle in {OPT}" in doctor["agentapp"]["detail"]
        assert str(ETC / "agent.toml") in doctor["agentapp"]["detail"]
        assert str(ETC / "recording-public-key.pem") in doctor["recording key"]["detail"]
        # the bundle carries the French texts, Babel's dates and the guides
        french = subprocess.run([str(BIN), "doctor"], capture_output=True, text=True,
                                env=dict(agent.env, AGENTAPP_LANG="fr"), timeout=120)  # fmt: skip
        assert "clé d'enregistrement" in french.stdout and "Go libres" in french.stdout
        docs = Path("/usr/share/doc/agentapp")
        assert (docs / "docs/rules.md").is_file() and (docs / "docs/guides/trainee.fr.md").is_file()
        assert (docs / "resources/policy-example.toml").is_file()
        assert "version 1" in doctor["policy"]["detail"]
        assert "enrolled in “CRM onboarding”" in doctor["enrolment"]["detail"]
        for name in ("display", "policy", "recording key", "notice", "business window", "site",
                     "event source", "key store", "clock"):  # fmt: skip
            assert doctor[name]["ok"], doctor[name]
        assert agent.hook("off-hook", "pkg-1") == "ok: recording"
        time.sleep(1.5)
        agent.hook("on-hook", "pkg-1")
        delivered = site / "recordings"
        wait_until(
            lambda: len(list(delivered.glob("2*"))) == 1, "the recording did not reach the site"
        )
        (rid,) = [p.name for p in delivered.glob("2*")]
        (site / "policy.toml").write_text(draft.read_text())  # the trainer's roles at the site
        reviewer = Agent(site, dict(trainer.env, AGENTAPP_DATA_DIR=str(site)))
        frames = reviewer.frames(rid, tmp_path / "review.mp4")
        assert len(frames) >= 5
        for _, bgr in frames:
            assert not near(bgr, MAGENTA_BGR, 80).any()
        assert near(frames[-1][1], GREEN_BGR, 25).mean() > 0.5

        # It ran on the bundle alone: no file of a Python installation or of this tree mapped.
        assert agent.proc is not None
        fields = [line.split(maxsplit=5) for line in
                  Path(f"/proc/{agent.proc.pid}/maps").read_text().splitlines()]  # fmt: skip
        mapped = {f[5] for f in fields if len(f) == 6 and f[5].startswith("/")}
        foreign = (f"{sys.base_prefix}/lib/", "/usr/lib/python3", f"{sys.prefix}/", str(ROOT))
        assert not [m for m in mapped if m.startswith(foreign)]
        assert f"{OPT}/_internal/libpython3.11.so.1.0" in mapped
        _records_under_gnome_wayland(env, home, site, reviewer, tmp_path)

        # The site's daily purge: systemd accepts the timer and its service, and the
        # service's own command runs as systemd would run it, on the account's kiosk key
        # store and a bus of its own.
        units = Path("/usr/lib/systemd/system")
        timer = (units / "agentapp-site-purge@.timer").read_text()
        assert "OnCalendar=daily" in timer and "Persistent=true" in timer
        service = (units / "agentapp-site-purge@.service").read_text()
        if shutil.which("systemd-analyze"):
            instances = [str(units / f"agentapp-site-purge@root.{k}") for k in ("service", "timer")]
            r = subprocess.run(["systemd-analyze", "verify", *instances], capture_output=True,
                               text=True, timeout=60)  # fmt: skip
            assert r.returncode == 0, r.stdout + r.stderr
        subprocess.run(
            ["systemctl", "enable", "agentapp-site-purge@root.timer"],
            capture_output=True,
            check=True,
            timeout=60,
        )  # as IT enables it
        agent.cli("machine", "kiosk-keystore", "root")  # (the installed command, as root)
        command = next(line.split("=", 1)[1] for line in service.splitlines()
                       if line.startswith("ExecStart="))  # fmt: skip
        purge_home = tmp_path / "purge-home"
        (purge_home / "run").mkdir(parents=True, mode=0o700)
        penv = dict(PATH="/usr/bin:/bin", HOME=str(purge_home), LANG="C.UTF-8",
                    XDG_RUNTIME_DIR=str(purge_home / "run"))  # fmt: skip
        r = subprocess.run(shlex.split(command), env=penv, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        assert "nothing has reached its deadline" in r.stdout, r.stdout
        assert (purge_home / ".local/share/keyrings/login.keyring").exists()

        # An upgrade (here: the same package again) keeps the settings and the running agent.
        names = ("agent.toml", "recording-public-key.pem", "policy-signing-public-key.pem")
        before = {n: (ETC / n).read_bytes() for n in names}
        _dpkg("-i", str(deb))
        assert agent.proc.poll() is None
        assert {n: (ETC / n).read_bytes() for n in names} == before

        # 4. The tray agent from the bundle (Qt's xcb plugin, the tray host), as the autostart
        #    entry starts it; then removal: the running agent is stopped (it seals and
        #    exits), the bundle goes, the settings and every recording stay.
        agent.stop()
        agent.start(headless=False)
        agent.wait_log("tray icon shown in the system tray", timeout=30)
        _dpkg("--remove", "agentapp")
        assert agent.proc is not None
        assert agent.proc.wait(timeout=20) in (0, -signal.SIGTERM)
        log = agent.log()
        assert log.rfind("agent stopping") > log.rfind("tray icon shown"), log[-2000:]
    finally:
        agent.stop()
    assert not BIN.exists() and not OPT.exists()
    assert (ETC / "agent.toml").exists() and (ETC / "recording-public-key.pem").exists()
    assert AUTOSTART.exists()  # a conffile: inert without the program (TryExec)
    assert PURGE_TIMER.is_symlink()  # still enabled: a reinstall finds it as IT left it
    assert (data / "audit.jsonl").exists() and (data / "recordings" / rid).is_dir()
    assert (delivered / rid).is_dir()

    # 5. Purge: the settings and the answers go too; recordings still stay.
    _dpkg("--purge", "agentapp")
    assert not ETC.exists() and not AUTOSTART.exists()
    assert not PURGE_TIMER.is_symlink()  # no link left to a unit no package ships
    shown = subprocess.run(["debconf-show", "agentapp"], capture_output=True, text=True)
    assert "site_folder" not in shown.stdout
    assert (data / "recordings" / rid).is_dir() and (delivered / rid).is_dir()
