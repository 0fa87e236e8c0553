"""A real GNOME Shell on Wayland for the tests: `gnome-shell --headless --wayland --no-x11
--virtual-monitor`, on a session bus and an empty system bus of its own, with PipeWire and
WirePlumber, a key store, and the project's desk extension installed and enabled (settings in
a keyfile: no dconf daemon); the extension's copy answers `callers` (this checkout's Python)
instead of the installed agent. Everything it starts is stopped by PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from agentapp.demo.virtual_display import stop_process

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "resources/gnome-shell/agentapp-desk@agentapp"
TOOLS = (
    "gnome-shell",
    "pipewire",
    "wireplumber",
    "dbus-daemon",
    "glib-compile-schemas",
    "gnome-keyring-daemon",
)


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def _bus(path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address=unix:path={path}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait(what: str, ok: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ok():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up in {timeout} s")
        time.sleep(0.05)


class GnomeSession:
    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        callers: tuple[str, ...] = (),
        installed: bool = False,
    ) -> None:
        """`installed`: the extension the package installed, enabled by the package's own
        GSettings default (nothing of this tree's copy, nothing set here)."""
        self.size = size
        self.callers = callers
        self.installed = installed
        self.dir = Path(tempfile.mkdtemp(prefix="aa-gnome-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}

    def _settings(self, config: Path) -> None:
        keyfile = config / "glib-2.0/settings/keyfile"
        keyfile.parent.mkdir(parents=True)
        enabled = "" if self.installed else "enabled-extensions=['agentapp-desk@agentapp']\n"
        keyfile.write_text(f"[org/gnome/shell]\n{enabled}welcome-dialog-last-shown-version='999'\n")

    def start(self) -> GnomeSession:
        runtime = self.dir / "run"
        runtime.mkdir(mode=0o700)
        data, config = self.dir / "data", self.dir / "config"
        ext = data / "gnome-shell/extensions" / EXTENSION.name
        if not self.installed:
            shutil.copytree(EXTENSION, ext)
            subprocess.run(["glib-compile-schemas", str(ext / "schemas")], check=True)
        if (
            self.callers and not self.installed
        ):  # the program under test is this checkout's Python, not /opt's agent
            code = ext / "extension.js"
            installed = "const CALLERS = ['/opt/agentapp/agentapp'];"
            assert installed in code.read_text()
            listed = ", ".join(f"'{c}'" for c in self.callers)
            code.write_text(code.read_text().replace(installed, f"const CALLERS = [{listed}];"))
        self._settings(config)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DBUS_", "XDG_", "DISPLAY", "WAYLAND_"))}  # fmt: skip
        env.update(
            XDG_RUNTIME_DIR=str(runtime), XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(config),
            XDG_CACHE_HOME=str(self.dir / "cache"), XDG_STATE_HOME=str(self.dir / "state"),
            GSETTINGS_BACKEND="keyfile", XDG_SESSION_TYPE="wayland",
            XDG_CURRENT_DESKTOP="GNOME", WAYLAND_DISPLAY="wayland-0",
            DBUS_SESSION_BUS_ADDRESS=f"unix:path={runtime}/bus",
            DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={self.dir}/system_bus",
            NO_AT_BRIDGE="1",
        )  # fmt: skip
        self.env = env
        try:
            self.procs.append(_bus(self.dir / "system_bus", env))
            self.procs.append(_bus(runtime / "bus", env))
            _wait("the buses", lambda: (runtime / "bus").exists()
                  and (self.dir / "system_bus").exists(), 10)  # fmt: skip
            log = (self.dir / "shell.log").open("wb")
            for argv in (["pipewire"], ["wireplumber"]):
                self.procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=log))
            _wait("pipewire", lambda: (runtime / "pipewire-0").exists(), 10)
            self._key_store(env)
            w, h = self.size
            self.procs.append(subprocess.Popen(
                ["gnome-shell", "--headless", "--wayland", "--no-x11",
                 "--virtual-monitor", f"{w}x{h}"], env=env, stdout=log, stderr=log,
            ))  # fmt: skip
            _wait("gnome-shell", lambda: (runtime / "wayland-0").exists(), 30)
            _wait("the desk extension", lambda: self.owner("org.agentapp.Desk"), 30)
            _wait("Mutter's ScreenCast", lambda: self.owner("org.gnome.Mutter.ScreenCast"), 30)
        except BaseException:
            print(self.log())
            self.stop()
            raise
        return self

    def _key_store(self, env: dict[str, str]) -> None:
        """An unlocked gnome-keyring on the session's bus (the agent's keys live there)."""
        keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.procs.append(keyring)  # type: ignore[arg-type]
        assert keyring.stdin is not None
        keyring.stdin.write(b"agentapp-session")
        keyring.stdin.close()
        _wait("gnome-keyring", lambda: self.owner("org.freedesktop.secrets"), 20)

    def owner(self, name: str) -> bool:
        r = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
            env=self.env, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        return "boolean true" in r.stdout

    def log(self) -> str:
        path = self.dir / "shell.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> GnomeSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def press_keys(env: dict[str, str], keysyms: tuple[int, ...]) -> None:
    """Type a key combination as a keyboard would, through Mutter's remote-desktop API (what a
    remote-support tool uses): the shell sees real key events."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    old = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = env["DBUS_SESSION_BUS_ADDRESS"]
    try:
        conn = open_dbus_connection("SESSION")
    finally:
        if old is None:
            del os.environ["DBUS_SESSION_BUS_ADDRESS"]
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = old
    name = "org.gnome.Mutter.RemoteDesktop"
    try:
        top = DBusAddress("/org/gnome/Mutter/RemoteDesktop", bus_name=name, interface=name)
        (path,) = conn.send_and_get_reply(new_method_call(top, "CreateSession"), timeout=5).body
        session = DBusAddress(path, bus_name=name, interface=f"{name}.Session")
        conn.send_and_get_reply(new_method_call(session, "Start"), timeout=5)
        for pressed in (True, False):
            for sym in keysyms if pressed else reversed(keysyms):
                msg = new_method_call(session, "NotifyKeyboardKeysym", "ub", (sym, pressed))
                conn.send_and_get_reply(msg, timeout=5)
        conn.send_and_get_reply(new_method_call(session, "Stop"), timeout=5)
    finally:
        conn.close()
