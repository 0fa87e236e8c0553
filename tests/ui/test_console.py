"""The trainer console (pytest-qt, offscreen) against a real site folder and the real key
store: enrol, publish a signed policy, write window rules, play a sealed recording."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pytestqt.qtbot import QtBot

from agentapp import i18n
from agentapp.agent.settings import Settings
from agentapp.core.config import AgentConfig
from agentapp.demo.run import make_sample_site
from agentapp.platform.base import WindowInfo
from agentapp.site.signing import PUBLIC_FILE, load_public, parse_signed
from agentapp.site.sync import site_policy_path
from agentapp.trainer.console import ConsoleError, ConsoleModel
from agentapp.ui.console import ConsoleWindow
from agentapp.vault.keys import keystore_problem, load_private_from_keystore
from agentapp.vault.store import Vault
from tests.fakes import site_trail_entries
from tests.integration.conftest import need
from tests.policies import ACCESS, policy_text

WINDOWS = [
    WindowInfo(1, ("crm-desktop", "CrmDesktop"), "crm", "CRM — customer 1234", 42),
    WindowInfo(2, ("thunderbird",), "thunderbird", "Inbox — private mail", 43),
]


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path, Ed25519PublicKey]:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    trainer, site = tmp_path / "trainer", tmp_path / "site"
    make_sample_site(trainer, site, policy_text("alice", extra=ACCESS), "alice")
    return trainer, site, load_public(trainer / "keys" / PUBLIC_FILE)


def _console(
    qtbot: QtBot, trainer: Path, site: Path, user: str, mine: bool = False
) -> ConsoleWindow:
    s = Settings(trainer, user, trainer / "policy.toml", AgentConfig(), user)
    model = ConsoleModel(s, site, mine=mine)
    window = ConsoleWindow(model, lambda: list(WINDOWS), load_private_from_keystore,
                           reason=lambda *_: "review 1", pick=lambda: WINDOWS[1])  # fmt: skip
    qtbot.addWidget(window)
    return window


def test_enrol_then_publish_a_signed_policy(qtbot: QtBot, site) -> None:  # type: ignore[no-untyped-def]
    trainer, folder, signing = site
    w = _console(qtbot, trainer, folder, "carol")
    assert (
        w.enrolment.enrolled.rowCount() == 1
        and w.enrolment.enrolled.item(0, 6).text() == "enrolled"
    )  # type: ignore[union-attr]
    w.enrolment.agent.setText("bob")
    w.enrolment.training.setText("CRM onboarding")
    w.enrolment.fps.setValue(5)
    w.enrolment.enrol_button.click()
    assert "draft version 2: bob enrolled" in w.status.text()
    assert [w.enrolment.enrolled.item(r, 0).text() for r in range(2)] == ["alice", "bob"]  # type: ignore[union-attr]
    end = w.enrolment.enrolled.item(1, 3).text()  # type: ignore[union-attr]
    assert end == i18n.date(dt.date.today() + dt.timedelta(days=91))  # 3 months
    assert "enrolment changed: bob enrolled" in w.publishing.plan_text.toPlainText()
    w.publishing.publish_button.click()
    assert "version 2 published" in w.status.text()
    said = w.publishing.plan_text.toPlainText()  # what was published, not an error
    assert "Version 2 is the site's policy" in said and "bob enrolled" in said, said
    assert "increase 'version'" not in said and not w.publishing.publish_button.isEnabled()
    published = parse_signed(site_policy_path(folder).read_bytes(), signing, "site")
    bob = published.enrolment_for("bob")
    assert published.version == 2 and bob is not None and bob.fps == 5
    w.publishing.publish_button.click()  # nothing new: the same version is refused
    assert "not higher" in w.status.text() or not w.publishing.publish_button.isEnabled()
    w.enrolment.enrolled.selectRow(0)
    w.enrolment.unenrol_button.click()
    assert "alice removed" in w.status.text() and w.enrolment.enrolled.rowCount() == 1


def test_pick_a_window_and_test_the_rule(qtbot: QtBot, site, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QDialog

    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "carol")
    monkeypatch.setattr(QDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    w.applications.pick_window()  # the first window offered is the CRM one
    assert (
        w.applications.rule_class.text() == "CrmDesktop" and w.applications.rule_exe.text() == "crm"
    )
    assert w.applications.match_label.text() == "matches 1 open window: CRM — customer 1234"
    # the rule is named from the program, never from a title that names a customer
    assert w.applications.rule_name.text() == "CrmDesktop"
    assert w.applications.rule_title.text() == ""
    dialog, listing = w.applications.picker
    assert dialog.width() >= 700 and listing.wordWrap()  # readable, entries not cut off
    w.applications.rule_name.setText("")
    w.applications.click_window()  # a click on another window (the locator's pick) fills it
    assert w.applications.rule_class.text() == "thunderbird"
    assert "picked: class thunderbird" in w.status.text()
    assert "private mail" not in w.status.text()
    assert w.applications.rule_name.text() == "thunderbird"
    w.applications.pick_window()
    w.applications.rule_name.setText("CRM desktop")
    w.applications.add_rule_button.click()
    assert "“CRM desktop” may be recorded" in w.status.text()
    assert "Warning" not in w.status.text()
    w.applications.rule_name.setText("CRM by title")
    w.applications.rule_class.setText("")
    w.applications.rule_exe.setText("")
    w.applications.rule_title.setText("^CRM")
    w.applications.add_rule_button.click()
    assert "Warning: a title rule is published to every desk" in w.status.text()
    assert any(a.name == "CRM desktop" for a in w.model.draft().applications)


def test_a_web_application_rule_with_its_page_address(qtbot: QtBot, site) -> None:  # type: ignore[no-untyped-def]
    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "carol")
    w.applications.rule_name.setText("CRM web")
    w.applications.rule_class.setText("chromium")
    w.applications.rule_url.setText("[unclosed")
    w.applications.add_rule_button.click()
    assert "the page address pattern is not valid" in w.status.text()
    assert not any(a.name == "CRM web" for a in w.model.draft().applications)
    w.applications.rule_url.setText(r"^https://crm\.example\.fr/")
    w.applications.rule_popups.setChecked(True)
    w.applications.add_rule_button.click()
    assert "“CRM web” may be recorded" in w.status.text()
    (rule,) = [a for a in w.model.draft().applications if a.name == "CRM web"]
    assert (
        rule.url_pattern is not None and rule.url_pattern.pattern == r"^https://crm\.example\.fr/"
    )
    assert rule.popups and rule.wm_class == "chromium"
    shown = [w.applications.rules.item(i).text() for i in range(w.applications.rules.count())]  # type: ignore[union-attr]
    assert any("page ~ ^https://crm" in t and "with its pop-ups" in t for t in shown)


def test_play_a_recording_traced_and_roles_respected(qtbot: QtBot, site) -> None:  # type: ignore[no-untyped-def]
    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "carol")
    assert w.recordings.recs.rowCount() == 1
    w.recordings.recs.selectRow(0)
    w.recordings.play_selected()
    (player,) = w.recordings.players
    qtbot.waitUntil(lambda: player.finished, timeout=5000)
    assert player.shown == 10 and "paused: 0.3–0.5 s" in player.caption.text()
    image = player.picture.pixmap().toImage()
    c = image.pixelColor(image.width() // 2, image.height() // 2)
    assert abs(c.green() - 160) < 30 and c.red() < 80  # decoded from the sealed segment
    trail = site_trail_entries(folder)
    assert ("carol", "view", "review 1") in [(e["who"], e["action"], e["reason"])
                                                     for e in trail]  # fmt: skip
    assert not list(trainer.rglob("*.mp4")) and not list(folder.rglob("*.mp4"))
    bob = _console(qtbot, trainer, folder, "bob", mine=True)
    assert bob.recordings.recs.rowCount() == 0 and bob.tabs.count() == 1  # a trainee: own only
    rid = w.recordings.recs.item(0, 0).text()  # type: ignore[union-attr]
    with pytest.raises(ConsoleError, match="only a trainer"):
        bob.model.notes.add(rid, "nice call")  # a trainee may not annotate: refused, traced
    trail = site_trail_entries(folder)
    assert ("bob", "refused notes", rid) in [(e["who"], e["action"], e["target"]) for e in trail]
    alice = _console(qtbot, trainer, folder, "alice", mine=True)
    assert alice.recordings.recs.rowCount() == 1
    shown = w.recordings.recs.item(0, 0).text()  # type: ignore[union-attr]
    meta = json.loads((folder / "recordings" / shown / "recording.json").read_text())
    assert meta["agent"] == "alice"


def test_a_failed_export_or_view_is_traced(qtbot: QtBot, site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """As on the command line: the access is traced, and so is its failure (here a key
    that does not open the recording)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "carol")
    rid = w.recordings.recs.item(0, 0).text()  # type: ignore[union-attr]
    wrong = X25519PrivateKey.generate()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ConsoleError, match="cannot export"):
        w.model.export(rid, "session 3 review", out, False, lambda _: wrong)
    with pytest.raises(ConsoleError, match="cannot open"):
        list(w.model.open(rid, "session 3 review", lambda _: wrong))
    done = [(e["action"], e["target"]) for e in site_trail_entries(folder)]
    assert done[-5:] == [("export", rid), ("export file", str(out / f"{rid}.mp4")),
                         ("export failed", rid), ("view", rid), ("view failed", rid)]  # fmt: skip
    assert not list(out.iterdir())  # nothing half-written is left


def test_exports_from_the_console_are_watermarked_and_anonymised(  # type: ignore[no-untyped-def]
    qtbot: QtBot, site, tmp_path: Path
) -> None:
    from agentapp.vault.export import BAND, iter_frames

    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "carol")
    w.recordings.recs.selectRow(0)
    out = tmp_path / "out"
    out.mkdir()
    w.recordings._pick_blurs = lambda parent, frame: []  # type: ignore[method-assign]
    w.recordings.export_selected(anonymise=True, folder=str(out))
    (made,) = out.iterdir()
    assert made.name.startswith("training-extract-") and "(watermarked" in w.status.text()
    frames = [bgr for _, bgr in iter_frames(made)]
    assert len(frames) == 10 and frames[0].shape[0] == 200 + BAND
    trail = [(e["who"], e["action"]) for e in site_trail_entries(folder)]
    assert ("carol", "export anonymised") in trail
    bob = _console(qtbot, trainer, folder, "bob")  # not a trainer, not his recording
    assert bob.recordings.recs.rowCount() == 0


def test_the_console_purges_the_site_at_start(qtbot: QtBot, site) -> None:  # type: ignore[no-untyped-def]
    trainer, folder, _ = site
    old = Vault(folder / "recordings").begin("alice", 1_000_000_000.0, "CRM", 183,
                                             training="CRM onboarding")  # fmt: skip
    old.add_segment(b"sealed", 1)
    old.finish(1.0, [], "on-hook")
    w = _console(qtbot, trainer, folder, "carol")
    assert "1 recording or note past its deadline deleted" in w.status.text()
    assert w.recordings.recs.rowCount() == 1 and not (folder / "recordings" / old.meta.id).exists()


def test_a_draft_never_gives_a_role(qtbot: QtBot, site) -> None:  # type: ignore[no-untyped-def]
    """Seen: a user became trainer with a policy file of their own. In the console, roles
    come from the site's signed policy only; a draft naming oneself trainer changes nothing."""
    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "mallory")
    draft = w.model.draft_path.read_text()
    w.model.draft_path.write_text(
        draft + '\n[[trainer]]\nname = "mallory"\ntrainings = ["CRM onboarding"]\n'
    )
    assert w.model.draft().trainer("mallory") is not None  # the draft says so…
    assert w.model.person().role == "agent"  # …the signed policy does not
    assert _console(qtbot, trainer, folder, "carol").model.person().role == "trainer"


def test_selecting_a_row_loads_it_and_an_update_keeps_the_rest(qtbot: QtBot, site) -> None:  # type: ignore[no-untyped-def]
    trainer, folder, _ = site
    draft = trainer / "policy-draft.toml"
    w = _console(qtbot, trainer, folder, "carol")
    text = draft.read_text().replace('agent = "alice"', 'agent = "alice"\nextension = "2101"')
    draft.write_text("# kept: the trainer's own comment\n" + text)
    w.refresh()
    alice = w.model.draft().enrolment_for("alice")
    assert alice is not None
    w.enrolment.enrolled.selectRow(0)
    assert w.enrolment.agent.text() == "alice" and w.enrolment.training.text() == alice.training
    assert i18n.date(alice.end) == w.enrolment.enrolled.item(0, 3).text()  # type: ignore[union-attr]
    assert w.enrolment.sampling.value() == alice.sampling_percent
    assert w.enrolment.quota.value() == alice.weekly_quota
    w.enrolment.quota.setValue(alice.weekly_quota - 1)
    w.enrolment.enrol_button.click()
    after = w.model.draft().enrolment_for("alice")
    assert after is not None and after.weekly_quota == alice.weekly_quota - 1
    # nothing else was reset to the form's defaults, and the file kept its comment
    assert (after.start, after.end, after.sampling_percent, after.extension) == (
        alice.start, alice.end, alice.sampling_percent, "2101")  # fmt: skip
    assert draft.read_text().startswith("# kept: the trainer's own comment")


def test_the_console_in_french(qtbot: QtBot, site) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QPushButton

    trainer, folder, _ = site
    i18n.use("fr")
    w = _console(qtbot, trainer, folder, "carol")
    tabs = [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert tabs == ["Inscriptions", "Fenêtres métier", "Grilles d'analyse", "Publication",
                    "Enregistrements"]  # fmt: skip
    buttons = {b.text() for b in w.findChildren(QPushButton)}
    assert {"Inscrire / modifier", "Signer et publier", "Lire…", "Tester la règle"} <= buttons
    assert w.enrolment.enrolled.item(0, 6).text() == "inscrit(e)"  # type: ignore[union-attr]
    english = _english_texts() - _same_in_both()
    assert not (buttons & english), buttons & english
    assert w.windowTitle().startswith("console agentapp — carol (formateur)")
    w.enrolment.agent.setText("bob")
    w.enrolment.training.setText("CRM onboarding")
    w.enrolment.enrol_button.click()
    plan = w.publishing.plan_text.toPlainText()  # what publishing would change, in French
    assert "inscription modifiée : bob inscrit(e) : CRM onboarding" in plan, plan
    assert "version 1 → 2" in plan and "enrolment changed" not in plan, plan


def _english_texts() -> set[str]:
    from babel.messages.pofile import read_po

    with (Path(i18n.__file__).parent / "fr.po").open("rb") as f:
        return {m.id for m in read_po(f) if isinstance(m.id, str) and m.id}


def _same_in_both() -> set[str]:
    french = i18n.texts("fr")
    return {m for m in _english_texts() if french.gettext(m) == m}


def test_a_note_at_a_moment_is_sealed_marked_on_the_timeline_and_read_in_the_console(
    qtbot: QtBot, site
) -> None:  # type: ignore[no-untyped-def]
    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "carol")
    w.recordings._note_text = lambda *a: ("Greets the caller by name: good", True)  # type: ignore[method-assign]
    w.recordings.recs.selectRow(0)
    rid = w.recordings.recs.item(0, 0).text()  # type: ignore[union-attr]
    w.recordings.play_selected()
    (player,) = w.recordings.players
    qtbot.waitUntil(lambda: player.shown >= 4, timeout=5000)
    player.note_here()  # pauses, asks, seals, marks
    at = player.at
    assert 0 < at < 1.0 and player.source.notes == [(at, "carol")]  # type: ignore[union-attr]
    (note,) = w.model.notes.on(rid)
    assert note.at_s == pytest.approx(at, abs=0.01) and note.author == "carol"
    sealed = folder / "notes" if (folder / "notes").exists() else trainer / "notes"
    assert b"Greets the caller" not in b"".join(p.read_bytes() for p in sealed.glob("*"))
    player.close()
    w.recordings.play_selected()  # played again: the note is on the timeline from the start
    again = w.recordings.players[-1]
    assert again.source.notes == [(note.at_s, "carol")]  # type: ignore[union-attr]
    w.recordings.show_notes()
    dialog = w.recordings.notes_dialog
    assert dialog.list.rowCount() == 1 and dialog.list.item(0, 1).text() == "carol"  # type: ignore[union-attr]
    assert dialog.list.item(0, 0).text() == "0:00"  # type: ignore[union-attr]
    dialog.list.selectRow(0)
    dialog.read_selected()
    assert dialog.text.toPlainText() == "Greets the caller by name: good"
    trail = [(e["who"], e["action"]) for e in site_trail_entries(folder)]
    assert ("carol", "add note") in trail and ("carol", "view note") in trail


def test_blur_rectangles_drawn_on_a_frame_make_that_area_unreadable_in_the_extract(  # type: ignore[no-untyped-def]
    qtbot: QtBot, site, tmp_path: Path
) -> None:
    import numpy as np
    from PySide6.QtCore import QPoint, Qt

    from agentapp.ui.console.blur import BlurDialog
    from agentapp.vault.export import iter_frames

    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "carol")
    w.recordings.recs.selectRow(0)
    rid = w.recordings.recs.item(0, 0).text()  # type: ignore[union-attr]
    frame = w.model.frame_to_blur(rid, "session 3", load_private_from_keystore)
    gray = frame.mean(axis=2)
    y, x = np.unravel_index(np.abs(np.diff(gray, axis=1)).argmax(), gray[:, 1:].shape)
    x0, y0 = max(0, int(x) - 20), max(0, int(y) - 15)  # around the sharpest edge
    dialog = BlurDialog(None, frame)
    qtbot.addWidget(dialog)
    c = dialog.canvas
    s = c.scale
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(round(x0 * s), round(y0 * s)))
    end = QPoint(round((x0 + 40) * s), round((y0 + 30) * s))
    qtbot.mouseMove(c, end)
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=end)
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))  # a click draws nothing
    (rect,) = dialog.rects
    assert abs(rect.x - x0) <= 2 and abs(rect.w - 40) <= 3 and abs(rect.h - 30) <= 3
    out = tmp_path / "out"
    out.mkdir()
    w.recordings._pick_blurs = lambda parent, f: dialog.rects  # type: ignore[method-assign]
    w.recordings.export_selected(anonymise=True, folder=str(out))
    assert "1 area blurred" in w.status.text()
    (made,) = out.iterdir()
    last = [bgr for _t, bgr in iter_frames(made)][-1]
    r = (slice(rect.y + 4, rect.y + rect.h - 4), slice(rect.x + 4, rect.x + rect.w - 4))
    edge = lambda img: float(np.abs(np.diff(img[r].mean(axis=2), axis=1)).max())  # noqa: E731
    assert edge(last) < edge(frame) / 4, (edge(last), edge(frame))  # the edge is gone
    outside = (slice(0, 200), slice(rect.x + rect.w + 10, None))
    if last[outside].size:  # and the rest of the picture is as it was (codec noise only)
        assert np.abs(last[outside].astype(int) - frame[outside]).mean() < 4
    trail = [(e["who"], e["action"], e["reason"]) for e in site_trail_entries(folder)]
    assert ("carol", "view", "choosing what to blur: session 3") in trail


def test_the_call_s_voice_is_chosen_per_agent_and_needs_the_softphone_rule(
    qtbot: QtBot, site
) -> None:  # type: ignore[no-untyped-def]
    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "carol")
    e = w.enrolment
    e.enrolled.selectRow(0)  # alice
    assert e.voice.currentData() is None  # the policy's choice
    e.voice.setCurrentIndex(e.voice.findData("softphone"))
    e.enrol_button.click()  # no [softphone] in this policy: refused, the draft unchanged
    assert "[softphone]" in w.status.text()
    draft = w.model.draft_path
    draft.write_text(draft.read_text() + '\n[softphone]\nbinary = "baresip"\n')
    e.enrol_button.click()
    assert "enrolled" in w.status.text(), w.status.text()
    assert 'voice = "softphone"' in draft.read_text()
    e.enrolled.selectRow(0)
    assert e.voice.currentData() == "softphone"  # loaded back from the draft
    e.voice.setCurrentIndex(e.voice.findData(None))
    e.enrol_button.click()
    assert "voice" not in draft.read_text().split("[[enrolment]]")[1].split("[")[0]


def test_the_timeline_caption_says_which_voices_the_recording_keeps(qtbot: QtBot, site) -> None:  # type: ignore[no-untyped-def]
    trainer, folder, _ = site
    w = _console(qtbot, trainer, folder, "carol")
    rid = w.recordings.recs.item(0, 0).text()  # type: ignore[union-attr]
    path = folder / "recordings" / rid / "recording.json"
    said = {}
    for voice in ("", "recording", "no voice: the softphone records from no microphone "
                  "(neither side is kept)"):  # fmt: skip
        path.write_text(json.dumps({**json.loads(path.read_text()), "voice": voice}))
        said[voice] = w.model.timeline(rid)
    assert "voice" not in said[""]  # the policy records no voice
    assert said["recording"].endswith("the agent on the left, the caller on the right")
    assert said[next(v for v in said if v.startswith("no"))].endswith(
        "no voice in this recording: the softphone records from no microphone (neither side "
        "is kept)"
    )
