"""What each person reads, in French and in English (pytest-qt, a real engine): the tray's
menu, tooltip and status window, the badge, the notice, the player; the notice quotes the
labels the tray shows; a trainee never reads a path or a rule number; Qt's own texts follow."""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import replace

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from agentapp import i18n
from agentapp.agent.engine import Engine
from agentapp.agent.status import AgentState, EngineStatus
from agentapp.core import labels
from agentapp.core.events import CallEvent, EventKind
from agentapp.core.notice import build_notice
from agentapp.core.policy import parse_policy
from agentapp.core.readiness import Why
from agentapp.ui.player import PlayerWindow
from agentapp.ui.tray import MENU_WIDTH, TrayController
from tests.policies import policy_text

HOTKEY = "<ctrl>+<alt>+p"
WORDS = {
    "fr": {"waiting": "Inscrit(e) — en attente d'un appel", "pause": "Mettre l'enregistrement "
           "en pause (Ctrl+Alt+P)", "about": "À propos de l'enregistrement…",
           "badge": "● Enregistrement pour la formation — CRM", "recording": "Enregistrement en "
           "cours — CRM", "hidden": "○ Rien n'est enregistré — fenêtre métier masquée",
           "cannot": "Enregistrement impossible sur ce poste", "details": "Détails pour "
           "l'informatique…", "say": "Que dire à un appelant…", "play": "Pause"},
    "en": {"waiting": "Enrolled — waiting for a call", "pause": "Pause recording (Ctrl+Alt+P)",
           "about": "About recording…", "badge": "● Recording for training — CRM",
           "recording": "Recording — CRM", "hidden": "○ Nothing is written — business window "
           "hidden", "cannot": "Cannot record on this desk", "details": "Details for IT…",
           "say": "What to tell a caller…", "play": "Pause"},
}  # fmt: skip


def _menu(c: TrayController) -> list[str]:
    c.menu.aboutToShow.emit()
    return [a.text() for a in c.menu.actions() if a.text()]


def _french_values() -> list[re.Pattern[str]]:
    """Every French text of the catalogue, its {placeholders} as wildcards."""
    from babel.messages.pofile import read_po

    with (i18n.Path(i18n.__file__).parent / "fr.po").open("rb") as f:
        catalog = read_po(f)
    out = []
    for m in catalog:
        for text in m.string if isinstance(m.string, tuple) else (m.string,):
            if text:
                parts = re.split(r"\{[^}]*\}", text)
                out.append(re.compile("^" + ".+".join(map(re.escape, parts)) + "$", re.S))
    return out


@pytest.mark.parametrize("language", ["fr", "en"])
def test_tray_menu_badge_and_notice_speak_the_language(
    qtbot: QtBot, engine: Engine, language: str
) -> None:
    w = WORDS[language]
    engine.notices.acknowledge(language)
    c = TrayController(engine, language, HOTKEY, tray_available=lambda: True)
    menu = _menu(c)
    assert menu[0] == w["waiting"] and w["pause"] in menu and w["about"] in menu
    assert w["say"] in menu and w["details"] not in menu  # nothing for IT to read
    engine.handle_event(CallEvent(EventKind.OFF_HOOK, "c1", time.time()))
    qtbot.waitUntil(lambda: c.indicator.isVisible())
    assert c.indicator.text() == w["badge"]
    assert _menu(c)[0] == w["recording"]
    objects = _(language, labels.OBJECTS)
    assert objects in _menu(c)
    # the notice quotes the very labels the trainee sees (R2, R15)
    notice = engine.notices.notice(language).as_text()
    assert objects in notice and w["badge"] in notice and w["say"] in notice
    assert _(language, labels.PAUSE).format(key="Ctrl+Alt+P") in notice
    # the window hidden: the badge says nothing is written, in grey
    hidden = replace(engine.status, writing=False, why=Why.HIDDEN)
    c.indicator.show_status(hidden)
    assert c.indicator.text() == w["hidden"] and "#616161" in c.indicator.styleSheet()
    engine.handle_event(CallEvent(EventKind.ON_HOOK, "c1", time.time()))
    assert engine.wait_idle(10)
    if language == "fr":  # every text of the menu is a French text of the catalogue
        french = _french_values()
        for text in _menu(c):
            assert any(p.match(text) for p in french), text


def _(language: str, message: str) -> str:
    return i18n.texts(language).gettext(message)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_cannot_record_is_short_says_whom_to_ask_and_hides_the_details(
    qtbot: QtBot, engine: Engine, language: str
) -> None:
    w = WORDS[language]
    c = TrayController(engine, language, HOTKEY, tray_available=lambda: True)
    detail = ("no recording public key at /home/alice/.local/share/agentapp/keys/x.pem: "
              "policy 'recording.fps' (RULES.md R9)")  # fmt: skip
    engine._board.set(EngineStatus(AgentState.CANNOT_RECORD, detail, why=Why.KEY))
    menu = _menu(c)
    assert menu[0].startswith(w["cannot"]) and w["details"] in menu
    ask = _(language, "It is not your doing: tell your trainer or IT.")
    assert ask in menu
    for text in menu:
        assert (
            "/" not in text.replace("Français / English", "").replace("English / Français", "")
            and "R9" not in text
            and ".toml" not in text
        ), text
    assert c.menu.maximumWidth() <= MENU_WIDTH
    c.show_details()  # IT reads the technical words there
    assert (
        c.dialog is not None
        and detail
        in c.dialog.findChild(__import__("PySide6.QtWidgets").QtWidgets.QTextBrowser).toPlainText()
    )


def test_a_site_desk_waits_for_its_policy_it_is_not_an_error(qtbot: QtBot, engine: Engine) -> None:
    engine.desk.on_site = True
    engine.policy_path.unlink()
    engine.refresh()
    assert engine.status.why == Why.POLICY_PENDING
    c = TrayController(engine, "fr", HOTKEY, tray_available=lambda: True)
    menu = _menu(c)
    assert menu[0] == "En attente des règles du site — rien n'est enregistré pour l'instant"
    assert not any("introuvable" in t or "not found" in t for t in menu)
    engine.desk.on_site = False  # a desk with no site: the policy is missing, which is a fault
    engine.refresh()
    assert engine.status.why == Why.POLICY


def test_the_tray_switches_language_at_once(qtbot: QtBot, engine: Engine) -> None:
    engine.notices.acknowledge("fr")
    c = TrayController(engine, "fr", HOTKEY, tray_available=lambda: True)
    assert _menu(c)[0] == WORDS["fr"]["waiting"]
    c.switch_language()
    assert _menu(c)[0] == WORDS["en"]["waiting"] and i18n.current() == "en"
    assert "Enrolled — waiting for a call" in (c.tray.toolTip() if c.tray else "")


def test_qt_own_texts_load_in_french(qtbot: QtBot) -> None:
    from PySide6.QtCore import QCoreApplication

    from agentapp.ui.qt_texts import install_qt_translations

    assert install_qt_translations("fr")
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Annuler"
    assert install_qt_translations("en")
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Cancel"


def test_the_read_out_text_comes_from_the_live_policy(engine: Engine) -> None:
    fr, en = engine.notices.read_out("fr"), engine.notices.read_out("en")
    assert "Example Contact Center SAS" in fr and "CRM" in fr and "183 jours" in fr
    assert "dpo@example.test" in en and "183 days" in en and "erase" in en


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_player_speaks_the_language(qtbot: QtBot, language: str) -> None:
    i18n.use(language)
    frames = iter([(0.0, np.zeros((48, 64, 3), np.uint8))])
    p = PlayerWindow(frames, "x")
    qtbot.addWidget(p)
    qtbot.waitUntil(lambda: p.finished)
    end = {"fr": "fin de l'enregistrement", "en": "end of the recording"}[language]
    assert end in p.position.text() and p.toggle.text() == WORDS[language]["play"]


@pytest.mark.parametrize(("language", "header"), [("fr", "Enregistrement"), ("en", "Recording")])
def test_my_recordings_names_its_columns_not_a_state(
    qtbot: QtBot, language: str, header: str
) -> None:
    """« Mes enregistrements »' first column holds recordings: not the tray's "Recording"
    state (« Enregistrement en cours »)."""
    from agentapp.ui.mine import MineWindow

    class Nothing:
        def listed(self) -> list[object]:
            return []

    i18n.use(language)
    w = MineWindow(Nothing())  # type: ignore[arg-type]
    qtbot.addWidget(w)
    item = w.recs.horizontalHeaderItem(0)
    assert item is not None and item.text() == header


def test_the_notice_has_no_english_line_in_french_and_one_date_format() -> None:
    policy = parse_policy(policy_text("alice"))
    text = build_notice(policy, "alice", "fr").as_text()
    assert "rainers of" not in text and "Les formateurs de votre formation" in text
    e = policy.enrolment_for("alice")
    assert e is not None
    assert i18n.date(e.start, "fr") in text and i18n.date(e.end, "fr") in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no ISO dates beside the French ones
    assert "article 6.1.f" in text and "système téléphonique" in text
    assert dt.date(2026, 12, 1).strftime("%d/%m/%Y") not in text  # one format only


def test_the_language_follows_the_locale() -> None:
    assert i18n.language_from_environment({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert i18n.language_from_environment({"LANG": "fr_BE.UTF-8", "LC_ALL": "en_US"}) == "en"
    assert i18n.language_from_environment({"LANG": "de_DE.UTF-8"}) == "en"
    assert i18n.language_from_environment({"LANG": "en_US", "AGENTAPP_LANG": "fr"}) == "fr"
