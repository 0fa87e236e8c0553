"""What the agent is doing, as the tray, the badge, the hook's `status` and the status file
see it.

Threading: `StatusBoard.set` may be called from any thread (the capture, voice, hook and
watchdog threads all change the status); listeners run on the thread that changed it and must
not block (a UI marshals them to its own thread, see ui/bridge.py).
"""

from __future__ import annotations

import enum
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from agentapp.core.readiness import Ready, Why
from agentapp.files import layout
from agentapp.vault.store import write_atomic

log = logging.getLogger(__name__)


class AgentState(enum.StrEnum):
    """What the agent is doing, as the tray, the badge and the status file name it."""

    NOT_ENROLLED = "not_enrolled"
    NOTICE_REQUIRED = "notice_required"
    WAITING = "waiting"
    RECORDING = "recording"
    PAUSED = "paused"
    CANNOT_RECORD = "cannot_record"


STATES = {
    Ready.YES: AgentState.WAITING,
    Ready.NOT_ENROLLED: AgentState.NOT_ENROLLED,
    Ready.CANNOT_RECORD: AgentState.CANNOT_RECORD,
    Ready.NOTICE_REQUIRED: AgentState.NOTICE_REQUIRED,
}


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """What the agent is doing (`state`), and why, in words a trainee understands."""

    state: AgentState
    detail: str  # technical words (logs, status file, the tray's Details…)
    recording_id: str | None = None
    training: str | None = None  # the enrolment's, while enrolled
    until: str | None = None  # its last day (ISO date)
    used: int | None = None  # recordings this week…
    weekly_quota: int | None = None  # …of at most this many
    application: str | None = None
    erasable: bool = False  # the last call's recording may still be erased (caller objects)
    why: Why = Why.NONE  # the code the tray words for a trainee (agentapp/ui/words.py)
    writing: bool = True  # recording, and frames are written (False: window not shown)
    voice: str = ""  # while recording: "recording", "no voice: …", "" (the voice is off)

    @property
    def recording(self) -> bool:
        return self.state in (AgentState.RECORDING, AgentState.PAUSED)

    def shown(self) -> tuple[object, ...]:
        """What the tray shows between calls (a change of words alone is not shown again)."""
        return (self.state, self.why, self.until, self.used, self.erasable)


StatusListener = Callable[[EngineStatus], None]


class StatusBoard:
    """The current status, its listeners, and `run/status.json` (read by the CLI and IT)."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._status = EngineStatus(AgentState.WAITING, "starting", why=Why.STARTING)
        self._lock = threading.Lock()
        self._listeners: list[StatusListener] = []

    @property
    def current(self) -> EngineStatus:
        return self._status

    def listen(self, fn: StatusListener) -> None:
        self._listeners.append(fn)

    def set(self, status: EngineStatus) -> None:
        with self._lock:
            if status == self._status:
                return
            self._status = status
            log.info("status: %s — %s", status.state, status.detail)
            try:
                path = layout.status_file(self._data_dir)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                # (what the agent last said, for when it is not running: not synced, each
                # call changes it several times)
                write_atomic(path, json.dumps(asdict(status)).encode(), durable=False)
            except OSError as exc:
                log.warning("cannot write status file: %s", exc)
        for fn in list(self._listeners):
            fn(status)
