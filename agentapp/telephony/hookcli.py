"""`agentapp hook …` / `agentapp control …` on a diet: softphones run it on every call, and
some (MicroSIP) wait for it. Only os, sys, time, json and socket are imported here (and
agentapp.files.datafolder, which needs only os, and agentapp.files.layout, which only names
paths); the wire format is the one `core.events` defines (a unit test keeps the two identical).

Exit codes: 0 delivered · 1 refused by the agent · 2 bad arguments · 3 agent not running (or
its data folder is not safe: the event is not sent).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

from agentapp.core.errors import Refusal
from agentapp.files import layout

EVENTS = ("off-hook", "on-hook")
COMMANDS = ("pause", "resume", "caller-objects")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@+=-")


def _(message: str) -> str:
    """The catalogue's text, imported only on the error paths (the hook must stay fast)."""
    from agentapp.i18n import _ as translated

    return translated(message)


def invocation_time() -> float:
    """When this process was started (by the softphone), as wall-clock time.

    On Linux the kernel knows the start to 10 ms (/proc/self/stat, in clock ticks since boot),
    earlier than any line of ours runs. Elsewhere, or if anything looks off, the current time."""
    now = time.time()
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks_since_boot = int(fields[19])  # field 22 of proc(5), counted after "(comm)"
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks_since_boot / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, AttributeError):
        return now
    return now - age if 0 <= age <= 5 else now


def data_dir(explicit: str | None) -> str:
    if explicit:
        return os.path.abspath(explicit)
    env = os.environ.get("AGENTAPP_DATA_DIR")
    if env:
        return os.path.abspath(env)
    if sys.platform.startswith("linux"):  # what platformdirs answers, without importing it
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
        return os.path.join(base, "agentapp")
    import platformdirs

    return str(platformdirs.user_data_dir("agentapp", appauthor=False))


def message(argv: list[str], at: float) -> tuple[bytes, str | None]:
    """The wire message and the data dir option; raises ValueError with the reason."""
    group, *rest = argv
    if not rest:
        raise ValueError(_("{group} needs an action").format(group=group))
    action, *opts = rest
    body: dict[str, object]
    if group == "control":
        if action not in COMMANDS:
            raise ValueError(
                _("unknown action {action!r}: {commands}").format(
                    action=action, commands=", ".join(COMMANDS)
                )
            )
        body = {"v": 1, "command": action, "t": round(at, 3)}
    else:
        if action not in EVENTS:
            raise ValueError(
                _("unknown event {action!r}: off-hook or on-hook").format(action=action)
            )
        body = {"v": 1, "event": action, "call_id": None, "t": round(at, 3)}
    folder = None
    i = 0
    while i < len(opts):
        opt = opts[i]
        if (opt in ("--call-id", "--data-dir") and group == "hook") or opt == "--data-dir":
            if i + 1 >= len(opts):
                raise ValueError(_("{opt} needs a value").format(opt=opt))
            if opt == "--data-dir":
                folder = opts[i + 1]
            else:
                body["call_id"] = opts[i + 1]
            i += 2
        elif opt == "--internal" and group == "hook":
            body["internal"] = True
            i += 1
        elif opt.startswith("-"):
            raise ValueError(_("unrecognized arguments: {opt}").format(opt=opt))
        elif group == "hook":
            i += 1  # a softphone appends the caller's number: accepted, never read or sent
        else:
            raise ValueError(_("unrecognized arguments: {opt}").format(opt=opt))
    if group == "hook":
        cid = body["call_id"]
        if not isinstance(cid, str):
            raise ValueError(_("the following arguments are required: --call-id"))
        if not 1 <= len(cid) <= 128 or not set(cid) <= _ID_CHARS:
            raise ValueError(
                _(
                    "invalid call id: use 1 to 128 characters among letters, digits "
                    "and . _ : @ + = -"
                )
            )
    return (json.dumps(body, separators=(",", ":")) + "\n").encode(), folder


class DeliveryError(Refusal):
    """The event did not reach the agent, or the agent refused it. `code` is the exit code."""


def exchange(path: str, payload: bytes, timeout: float = 2.0) -> str:
    """Send one message to the agent's socket and return its answer (bounded by `timeout`).
    Raises DeliveryError."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        try:
            s.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            raise DeliveryError(
                _("agentapp is not running for this user (no agent at {path})").format(path=path), 3
            ) from None
        s.sendall(payload)
        reply = b""
        while not reply.endswith(b"\n") and len(reply) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    except TimeoutError:
        raise DeliveryError(_("the agent did not answer in time")) from None
    except OSError as exc:
        raise DeliveryError(_("cannot talk to the agent: {exc}").format(exc=exc)) from None
    finally:
        s.close()
    text = reply.decode("utf-8", "replace").strip()
    if text.startswith("error"):
        raise DeliveryError(_("the agent refused the event: {why}").format(why=text[6:].strip()))
    return text


def fast_path(argv: list[str], at: float) -> int | None:
    """The exit code of a `hook` or `control` command, run here; None for any other command
    (or for their --help), which the full command line handles. The one dispatch both the
    installed command (entry.py) and `python -m agentapp` / cli.main go through."""
    if argv[:1] in (["hook"], ["control"]) and not {"-h", "--help"} & set(argv):
        return main(argv, at)
    return None


def main(argv: list[str], at: float) -> int:
    try:
        payload, folder = message(argv, at)
    except ValueError as exc:
        hint = _("see agentapp {command} --help").format(command=argv[0])
        sys.stderr.write(f"agentapp: {exc} ({hint})\n")
        return 2
    root = data_dir(folder)
    if os.path.isdir(root):  # else: "not running", below
        from agentapp.files.datafolder import problem

        why = problem(root, deep=False)
        if why:  # its socket could be anyone's: the event is not sent
            unsafe = _("the data folder is not safe to use: {why}").format(why=why)
            sys.stderr.write(f"agentapp: {unsafe}\n")
            return 3
    try:
        print(exchange(os.path.join(root, layout.RUN, layout.HOOK_SOCKET), payload))
    except DeliveryError as exc:
        sys.stderr.write(f"agentapp: {exc}\n")
        return exc.code
    return 0
