"""Watch a recording without writing it anywhere: frames decoded from memory, shown at their
own pace, the watermark band under the picture (R7, R8, R11: a player, no "save frame").

A trainer's controls: play/pause, a timeline that shows the paused spans, the gaps (window not
shown) and the notes at their moments, and seeks where it is clicked; ±5 s; speed 0.5×–2×;
keyboard: Space, ←/→ (5 s), Home, [ and ] (speed). It opens at the video's size on the screen
it is on (smaller if the screen is).

The source is a `Playback` (vault/playback.py: random access) or, for a plain stream of
frames, any iterator (then no seeking). Threading: Qt thread only; frames are decoded lazily,
one per tick, so a long recording never sits decoded in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from agentapp.i18n import _

SPEEDS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
JUMP_S = 5.0
LEAD_S = 0.06  # the sound is written this far ahead of the picture (the output's own delay)


class Source(Protocol):
    duration: float
    paused: list[tuple[float, float]]
    notes: list[tuple[float, str]]
    size: tuple[int, int]
    voice: np.ndarray | None  # (2, n) int16 at VOICE_RATE: the agent, the caller

    @property
    def gaps(self) -> list[tuple[float, float]]: ...

    def frames_from(self, t: float) -> Iterator[tuple[float, np.ndarray]]: ...


class Speaker(Protocol):
    """Where the sound goes (platform/pulse.py `Speaker`): `write` never blocks."""

    rate: int

    def write(self, pcm: bytes) -> int: ...

    def close(self) -> None: ...


def clock(t: float) -> str:
    t = max(0.0, t)
    return f"{int(t) // 60}:{int(t) % 60:02d}"


class Timeline(QWidget):
    """The recording's length as a bar: paused spans (amber), gaps (grey), notes (blue ticks),
    the position (red). A click or a drag asks to seek there (`seek` signal, in seconds); a
    click alone is also `clicked` (the grid pane takes it as a moment)."""

    seek = Signal(float)
    clicked = Signal(float)

    def __init__(self, source: Source | None) -> None:
        super().__init__()
        self.source = source
        self.position = 0.0
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setEnabled(source is not None and source.duration > 0)
        if source is not None:
            self.setToolTip(
                _("paused: amber · window not shown: grey · notes: blue · click to go there")
            )

    def x_of(self, t: float) -> int:
        d = self.source.duration if self.source else 0.0
        return round(self.width() * min(max(t / d, 0.0), 1.0)) if d > 0 else 0

    def t_of(self, x: float) -> float:
        d = self.source.duration if self.source else 0.0
        return d * min(max(x / max(1, self.width()), 0.0), 1.0)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        h = self.height()
        p.fillRect(self.rect(), QColor(60, 60, 60))
        if self.source is not None:
            for spans, color in ((self.source.gaps, QColor(130, 130, 130)),
                                 (self.source.paused, QColor(230, 160, 30))):  # fmt: skip
                for a, b in spans:
                    p.fillRect(QRect(self.x_of(a), 2, max(2, self.x_of(b) - self.x_of(a)),
                                     h - 4), color)  # fmt: skip
            for t, _text in self.source.notes:
                p.fillRect(QRect(self.x_of(t) - 1, 0, 3, h), QColor(60, 140, 255))
            p.fillRect(QRect(self.x_of(self.position) - 1, 0, 3, h), QColor(230, 40, 40))
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.isEnabled():
            t = self.t_of(event.position().x())
            self.seek.emit(t)
            self.clicked.emit(t)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.isEnabled() and event.buttons() & Qt.MouseButton.LeftButton:
            self.seek.emit(self.t_of(event.position().x()))


class PlayerWindow(QWidget):
    def __init__(
        self,
        source: Source | Iterator[tuple[float, np.ndarray]],
        title: str,
        caption: str = "",
        speaker: Callable[[], Speaker | None] | None = None,
        on_note: Callable[[float], str | None] | None = None,
        side: QWidget | None = None,
    ) -> None:
        """`caption`: a line under the picture (the console gives the recording's summary).
        `speaker`: opens the sound output, for a recording with the call's voice.
        `on_note(at)`: "Note at this moment…" (the console seals it; returns who wrote it,
        None if nothing was written), then the note shows on the timeline. `side`: a pane
        beside the video (the console's analysis grid)."""
        super().__init__()
        self.setObjectName("agentapp-player")
        self.setWindowTitle(title)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # no "copy image"
        self.source: Source | None = None if isinstance(source, Iterator) else source
        self._frames: Iterator[tuple[float, np.ndarray]] = (
            source if isinstance(source, Iterator) else source.frames_from(0.0)
        )
        self.speed = 1.0
        self._paused = False
        self.at = 0.0  # the time of the frame shown
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(320, 200)
        self.timeline = Timeline(self.source)
        self.timeline.seek.connect(self.seek)
        self.position = QLabel("0:00")
        self.toggle = QPushButton(_("Pause"))
        self.toggle.clicked.connect(self._toggle)
        self.back = QPushButton(_("−5 s"))
        self.back.clicked.connect(lambda: self.jump(-JUMP_S))
        self.ahead = QPushButton(_("+5 s"))
        self.ahead.clicked.connect(lambda: self.jump(JUMP_S))
        self.speeds = QComboBox()
        for s in SPEEDS:
            self.speeds.addItem(f"{s:g}×", s)
        self.speeds.setCurrentIndex(SPEEDS.index(1.0))
        self.speeds.setToolTip(_("Speed ([ slower, ] faster)"))
        self.speeds.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))
        seekable = self.source is not None
        for b in (self.back, self.ahead):
            b.setEnabled(seekable)
        close = QPushButton(_("Close"))
        close.clicked.connect(self.close)
        self._on_note = on_note
        self.note_button = QPushButton(_("Note at this moment…"))
        self.note_button.clicked.connect(self.note_here)
        self.note_button.setVisible(on_note is not None and self.source is not None)
        row = QHBoxLayout()
        for w in (self.toggle, self.back, self.ahead, self.speeds, self.note_button):
            row.addWidget(w)
        row.addWidget(self.position, 1)
        row.addWidget(close)
        self.side = side
        outer = QHBoxLayout(self)
        layout = QVBoxLayout()
        outer.addLayout(layout, 1)
        if side is not None:
            outer.addWidget(side)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.timeline)
        if caption:
            self.caption = QLabel(caption)
            self.caption.setWordWrap(True)
            layout.addWidget(self.caption)
        layout.addLayout(row)
        self._speaker: Speaker | None = None
        self.volumes = (QSlider(Qt.Orientation.Horizontal), QSlider(Qt.Orientation.Horizontal))
        voice = self.source.voice if self.source is not None else None
        if voice is not None:
            self._speaker = speaker() if speaker is not None else None
            sound = QHBoxLayout()
            for label, slider in zip((_("Agent"), _("Caller")), self.volumes, strict=True):
                slider.setRange(0, 100)
                slider.setValue(100)
                slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                sound.addWidget(QLabel(label))
                sound.addWidget(slider, 1)
            self.sound_state = QLabel()
            sound.addWidget(self.sound_state)
            layout.addLayout(sound)
        self._written = 0  # the next voice sample to write
        self._base = (0.0, 0.0)  # (position, monotonic time) the playhead counts from
        self._pump = QTimer(self)
        self._pump.timeout.connect(self._feed)
        if self._speaker is not None:
            self._pump.start(15)
        self._say_sound()
        for w in (self.toggle, self.back, self.ahead, self.speeds, self.note_button, close):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys are the player's, not a button's
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._keys = {Qt.Key.Key_Space: self._toggle, Qt.Key.Key_Left: lambda: self.jump(-JUMP_S),
                      Qt.Key.Key_Right: lambda: self.jump(JUMP_S),
                      Qt.Key.Key_Home: lambda: self.seek(0.0),
                      Qt.Key.Key_BracketLeft: lambda: self._step_speed(-1),
                      Qt.Key.Key_BracketRight: lambda: self._step_speed(1)}  # fmt: skip
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._next)
        self._last_t: float | None = None
        self._due: tuple[float, np.ndarray] | None = None
        self.shown = 0
        self.finished = False
        self._fit_screen()
        self._base = (0.0, time.monotonic())  # it plays from the start, now
        self._timer.start(0)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        act = self._keys.get(Qt.Key(event.key()))
        if act is None:
            super().keyPressEvent(event)
        else:
            act()

    # ------------------------------------------------------------------ size
    def _fit_screen(self) -> None:
        """The video's own size, on the screen the window is on, at most that screen."""
        if self.source is None:
            self.resize(960, 600)
            return
        w, h = self.source.size
        screen = self.screen().availableGeometry()
        extra = 110  # the timeline, the caption and the buttons
        scale = min(
            1.0, (screen.width() - 40) / max(1, w), (screen.height() - extra - 60) / max(1, h)
        )
        beside = self.side.minimumWidth() + 12 if self.side is not None else 0
        scale = min(scale, max(0.2, (screen.width() - 40 - beside) / max(1, w)))
        tall = max(round(h * scale) + extra, 480 if beside else 0)  # the grid needs room
        self.resize(max(480, round(w * scale) + 24) + beside, tall)
        self.move(screen.x() + (screen.width() - self.width()) // 2,
                  screen.y() + (screen.height() - self.height()) // 2)  # fmt: skip

    # ------------------------------------------------------------------ controls
    def _toggle(self) -> None:
        if self.finished and self.source is None:
            return
        if self.finished:  # at the end: play again from the start
            self.seek(0.0)
            return
        if not self._paused:
            self._paused = True
            self._timer.stop()
            self.toggle.setText(_("Play"))
        else:
            self._paused = False
            self.toggle.setText(_("Pause"))
            self._last_t = None
            self._base = (self.at, time.monotonic())
            self._timer.start(0)

    def note_here(self) -> None:
        """Pause, ask the console for a note about the moment shown, mark it on the timeline."""
        if self._on_note is None or self.source is None:
            return
        if not self._paused:
            self._toggle()
        at = self.at
        who = self._on_note(at)
        if who is not None:
            self.source.notes.append((at, who))
            self.timeline.update()

    def set_speed(self, speed: float) -> None:
        self._rebase()
        self.speed = speed
        if self.speeds.currentData() != speed:
            self.speeds.setCurrentIndex(SPEEDS.index(speed))
        self._say_sound()

    def _step_speed(self, step: int) -> None:
        i = min(max(SPEEDS.index(self.speed) + step, 0), len(SPEEDS) - 1)
        self.set_speed(SPEEDS[i])

    def jump(self, seconds: float) -> None:
        self.seek(self.at + seconds)

    def seek(self, t: float) -> None:
        """Show the frame shown at `t` at once, then play on from there (if playing)."""
        if self.source is None:
            return
        t = min(max(t, 0.0), self.source.duration)
        self._frames = self.source.frames_from(t)
        self._due, self._last_t = None, None
        self.finished = False
        self.toggle.setEnabled(True)
        self.toggle.setText(_("Play") if self._paused else _("Pause"))
        self._timer.stop()
        self._next(show_only=self._paused)
        self._base = (self.at if self._paused else t, time.monotonic())
        self._written = round(self._base[0] * (self._speaker.rate if self._speaker else 1))

    # ------------------------------------------------------------------ sound
    def playhead(self) -> float:
        """Where the recording is now, in seconds (the sound follows it)."""
        at, since = self._base
        if self._paused or self.finished:
            return at
        return at + (time.monotonic() - since) * self.speed

    def _rebase(self) -> None:
        self._base = (self.playhead(), time.monotonic())

    def _say_sound(self) -> None:
        if self.source is None or self.source.voice is None:
            return
        if self._speaker is None:
            self.sound_state.setText(_("no sound output on this desk"))
        elif self.speed != 1.0:
            self.sound_state.setText(_("sound at 1× only"))
        else:
            self.sound_state.setText("")

    def _feed(self) -> None:
        """Write the voice up to a little ahead of the playhead, mixed: the agent on the left,
        the caller on the right, each at its own volume."""
        voice, out = self.source.voice if self.source else None, self._speaker
        if voice is None or out is None or self._paused or self.finished:
            return
        rate = out.rate
        until = min(voice.shape[1], round((self.playhead() + LEAD_S) * rate))
        behind = round((self.playhead() - 0.2) * rate)
        if self._written < behind:  # the output could not keep up: skip, do not lag behind
            self._written = behind
        if self._written >= until:
            return
        gains = np.array([[s.value() / 100] for s in self.volumes], np.float32)
        if self.speed != 1.0:
            gains[:] = 0.0  # no pitch-shifted voices: silence off 1×
        chunk = voice[:, self._written : until].astype(np.float32) * gains
        pcm = np.clip(chunk, -32768, 32767).astype("<i2").T.tobytes()
        taken = out.write(pcm)
        self._written += taken // 4

    def closeEvent(self, event: QCloseEvent) -> None:
        self._pump.stop()
        if self._speaker is not None:
            self._speaker.close()
            self._speaker = None
        super().closeEvent(event)

    # ------------------------------------------------------------------ frames
    def _show(self, t: float, bgr: np.ndarray) -> None:
        h, w = bgr.shape[:2]
        image = QImage(bgr.data, w, h, bgr.strides[0], QImage.Format.Format_BGR888)
        pixmap = QPixmap.fromImage(image)  # a copy: bgr may go
        fit = pixmap.scaled(self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation)  # fmt: skip
        self.picture.setPixmap(fit)
        self.shown += 1
        self.at = t
        total = f" / {clock(self.source.duration)}" if self.source is not None else ""
        self.position.setText(clock(t) + total)
        self.timeline.position = t
        self.timeline.update()

    def _next(self, show_only: bool = False) -> None:
        """Show the frame that is due, then wait until the next one is (`show_only`: show
        one and stay, a seek while paused)."""
        if self._due is None:
            self._due = next(self._frames, None)
            if self._due is None:
                self._end()
                return
        t, bgr = self._due
        self._show(t, bgr)
        self._due = next(self._frames, None)
        if self._due is None:
            self._end()
            return
        if show_only:
            return
        wait = (self._due[0] - t) / self.speed
        self._timer.start(round(min(max(wait, 0.0), 2.0) * 1000))  # a gap: no long wait

    def _end(self) -> None:
        self.finished = True
        self._due = None
        if self.source is None:
            self.toggle.setEnabled(False)
        else:
            self.toggle.setText(_("Play again"))
        self.position.setText(
            _("{position} — end of the recording").format(position=self.position.text())
        )


def play(source: Source | Iterator[tuple[float, np.ndarray]], title: str) -> int:
    """Open the player in its own Qt application; returns when the window is closed."""
    from PySide6.QtWidgets import QApplication

    from agentapp.platform.factory import create_speaker

    app = QApplication.instance() or QApplication(["agentapp-player"])
    window = PlayerWindow(source, title, speaker=create_speaker)
    window.show()
    return app.exec()
