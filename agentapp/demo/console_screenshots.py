"""Screenshots of the trainer console, taken in real windows on a private X desktop, with a
sample site (keys in the OS key store: run under scripts/with-keyring.sh).

    bash scripts/with-keyring.sh .venv/bin/python -m agentapp.demo.console_screenshots DIR
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
import time
from pathlib import Path

SHOTS = ("console-enrolment.png", "console-windows.png", "console-publish.png",
         "console-review.png")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    out = Path((argv or sys.argv[1:] or ["docs/screenshots"])[0])
    out.mkdir(parents=True, exist_ok=True)
    from agentapp.demo.run import BUSINESS, PRIVATE, make_sample_site, sample_policy
    from agentapp.demo.virtual_display import VirtualDesktop

    with VirtualDesktop() as desk, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(DISPLAY=desk.display, QT_QPA_PLATFORM="xcb")
        procs = [BUSINESS.spawn(desk.env)[0], PRIVATE.spawn(desk.env)[0]]
        try:
            trainer, site = Path(tmp) / "trainer", Path(tmp) / "site"
            policy = sample_policy("alice", BUSINESS.wm_class).replace(
                "[access]", f'[[trainer]]\nname = "{getpass.getuser()}"\n'
                'trainings = ["CRM onboarding (demo)"]\n\n[access]')  # fmt: skip
            make_sample_site(trainer, site, policy, "alice")
            return _shoot(out, trainer, site, desk.display)
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=10)


def _shoot(out: Path, trainer: Path, site: Path, display: str) -> int:
    from PySide6.QtWidgets import QApplication

    from agentapp.agent.settings import Settings
    from agentapp.core.config import AgentConfig
    from agentapp.platform.x11 import X11Locator
    from agentapp.trainer.console import ConsoleModel
    from agentapp.ui.console import ConsoleWindow
    from agentapp.vault.keys import load_private_from_keystore

    app = QApplication.instance() or QApplication(["agentapp-console"])
    user = getpass.getuser()
    model = ConsoleModel(Settings(trainer, user, trainer / "policy.toml", AgentConfig(), user),
                         site)  # fmt: skip
    locator = X11Locator(display)
    w = ConsoleWindow(model, locator.windows, load_private_from_keystore,
                      reason=lambda *_: "screenshot for the documentation")  # fmt: skip
    w.show()
    assert w.enrolment is not None and w.applications is not None  # a trainer's console

    def settle(seconds: float = 0.6) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    settle()
    w.enrolment.agent.setText("bob")
    w.enrolment.training.setText("CRM onboarding (demo)")
    w.enrolment.enrol_button.click()
    settle()
    w.grab().save(str(out / SHOTS[0]))
    w.tabs.setCurrentIndex(1)
    found = [x for x in locator.windows() if "agentapp-business" in x.wm_class]
    if found:
        w.applications.rule_name.setText("CRM")
        w.applications.use_window(found[0])
    settle()
    w.grab().save(str(out / SHOTS[1]))
    w.tabs.setCurrentIndex(2)
    settle()
    w.grab().save(str(out / SHOTS[2]))
    w.tabs.setCurrentIndex(3)
    w.recordings.recs.selectRow(0)
    w.recordings.play_selected()
    settle(1.5)
    if not w.recordings.players:
        print(f"no player: {w.status.text()}", file=sys.stderr)
        return 1
    w.recordings.players[0].resize(480, 380)
    settle(1.2)
    w.recordings.players[0].grab().save(str(out / SHOTS[3]))
    locator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
