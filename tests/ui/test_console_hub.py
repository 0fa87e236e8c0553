"""The trainer console on a real hub (PostgreSQL, TLS, the trainer's own login, its password
in the real key store): the hub's list is what the database lets her see, the recording she
fetches arrives sealed and plays with its real pixels, and both trails say so."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from agentapp.agent.settings import Settings
from agentapp.core.config import AgentConfig, HubConfig
from agentapp.demo.run import make_sample_site
from agentapp.trainer.console import ConsoleModel
from agentapp.ui.console import ConsoleWindow
from agentapp.vault.keys import keystore_problem, load_private_from_keystore, store_secret
from tests.fakes import site_trail_entries
from tests.hubs import Hub, hub_problem, publish, trial_hub
from tests.integration.conftest import need
from tests.policies import ACCESS, policy_text

POLICY = policy_text("alice", extra=ACCESS)


@pytest.fixture
def hub() -> Iterator[Hub]:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    need(hub_problem() is None, f"no PostgreSQL server: {hub_problem()}")
    with trial_hub() as h:
        yield h


def _ship_from_a_desk(hub: Hub, site: Path, desk: Path) -> str:
    """The site's sample recording, moved to a desk and shipped by its hub link."""
    from agentapp.hub.link import HubLink
    from agentapp.vault.audit import AuditLog
    from agentapp.vault.store import Vault
    from tests.fakes import MemoryAuditKeys

    (rec,) = [p for p in (site / "recordings").iterdir() if p.is_dir()]
    (desk / "recordings").mkdir(parents=True)
    shutil.move(rec, desk / "recordings" / rec.name)
    password = hub.login("desk-t", "desk")
    with hub.connect("desk-t", password) as db:
        assert db.execute("SELECT agentapp.reserve_slot(%s, 'alice')",
                          (rec.name,)).fetchone()[0] == "reserved"  # fmt: skip
        db.commit()
    with hub.admin() as su:  # the sample call began 10 min ago: so did its slot, at the hub
        su.execute("UPDATE agentapp.reservations SET at = now() - interval '600 s' "
                   "WHERE recording_id = %s", (rec.name,))  # fmt: skip
    trail = AuditLog(desk / "audit.jsonl", MemoryAuditKeys())  # type: ignore[arg-type]
    link = HubLink(HubConfig(hub.url, "desk-t", hub.ca), Vault(desk / "recordings"), trail,
                   connect=lambda: hub.connect("desk-t", password))  # fmt: skip
    try:
        assert link.ship_all() == 1
    finally:
        link.stop()
    assert not list((desk / "recordings").rglob("*.seal"))
    return rec.name


def test_the_console_lists_the_hub_fetches_sealed_and_plays(
    qtbot: QtBot, hub: Hub, tmp_path: Path
) -> None:
    from agentapp.hub.admin import audit_rows

    trainer, site = tmp_path / "trainer", tmp_path / "site"
    make_sample_site(trainer, site, POLICY, "alice")
    publish(hub, POLICY, tmp_path)
    rid = _ship_from_a_desk(hub, site, tmp_path / "desk")
    cfg = HubConfig(hub.url, "carol", hub.ca)
    store_secret(cfg.secret_entry, hub.login("carol", "trainer"))
    s = Settings(trainer, "carol", trainer / "policy.toml", AgentConfig(hub=cfg), "carol")
    w = ConsoleWindow(ConsoleModel(s, site), lambda: [], load_private_from_keystore,
                      reason=lambda *_: "weekly review")  # fmt: skip
    qtbot.addWidget(w)
    tab = w.recordings
    assert tab.recs.rowCount() == 0  # not at the site folder: at the hub
    tab.hub_button.click()
    dialog = tab.hub_dialog
    assert dialog is not None and dialog.list.rowCount() == 1
    assert dialog.list.item(0, 0).text() == rid and dialog.list.item(0, 5).text() == "desk-t"  # type: ignore[union-attr]
    dialog.list.selectRow(0)
    dialog.fetch_button.click()
    assert "fetched from the hub" in w.status.text(), w.status.text()
    assert tab.recs.rowCount() == 1
    tab.recs.selectRow(0)
    tab.play_selected()
    (player,) = tab.players
    qtbot.waitUntil(lambda: player.finished, timeout=5000)
    image = player.picture.pixmap().toImage()
    c = image.pixelColor(image.width() // 2, image.height() // 2)
    assert abs(c.green() - 160) < 30 and c.red() < 80  # the sample's green, decoded
    trail = [(e["who"], e["action"], e["target"]) for e in site_trail_entries(site)]
    assert ("carol", "fetched from the hub", rid) in trail and ("carol", "view", rid) in trail
    with hub.admin() as db:
        fetched = [r for r in audit_rows(db) if r["action"] == "recording fetched"]
    assert [(r["who"], r["db_user"], r["target"]) for r in fetched] == [("carol", "carol", rid)]

    # a note at a moment, in the player: sealed here for the site's key, kept at the hub
    # (not in the site folder), listed and read back in the console, traced there
    tab._note_text = lambda *a: ("Greets the caller by name: good", True)  # type: ignore[method-assign]
    assert tab.note_at(rid, 2.0) == "carol"
    assert not (site / "notes").exists() or not list((site / "notes").iterdir())
    with hub.admin() as db:
        (sealed,) = [bytes(r[0]) for r in db.execute("SELECT sealed FROM agentapp.notes")]
        assert b"Greets" not in sealed
    tab.recs.selectRow(0)
    tab.show_notes()
    assert tab.notes_dialog is not None and tab.notes_dialog.list.rowCount() == 1
    (note,) = w.model.notes.on(rid)
    assert note.id.startswith("hub:") and (note.author, note.at_s) == ("carol", 2.0)
    text = w.model.notes.read(note.id, "weekly review", load_private_from_keystore)
    assert text == "Greets the caller by name: good"
    with hub.admin() as db:
        acts = [(r["who"], r["action"], r["target"]) for r in audit_rows(db)]
    assert ("carol", "note added", rid) in acts and ("carol", "notes read", rid) in acts
    player.close()
    tab.play_selected()  # the player marks the note's moment on its timeline
    source = tab.players[-1].source
    assert source is not None and (2.0, "carol") in source.notes

    # another trainer's login, whose trainings are not this one's: the hub shows her nothing
    other = HubConfig(hub.url, "erin", hub.ca)
    store_secret(other.secret_entry, hub.login("erin", "trainer"))
    s2 = Settings(trainer, "erin", trainer / "policy.toml", AgentConfig(hub=other), "erin")
    assert ConsoleModel(s2, site).hub_recordings() == []


def test_my_recordings_at_a_hub_lists_plays_and_takes_the_trainees_own_review(
    qtbot: QtBot, hub: Hub, tmp_path: Path
) -> None:
    """« Mes enregistrements » on a desk that works with a hub: the trainee's own login
    (its password in her key store) lists what a trainer shared with her there, plays it
    with her own key, and her review on the training's grid reaches her trainer at the hub."""
    import argparse

    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from agentapp.cli.hub_mine import HubRecordings
    from agentapp.cli.hub_training import hub_share
    from agentapp.hub.training import documents, read_document, register_key
    from agentapp.ui.grid_pane import GridPane
    from agentapp.ui.mine import MineWindow
    from agentapp.vault.keys import store_private_in_keystore
    from tests.policies import GRID

    policy = policy_text("alice", extra=ACCESS + GRID)
    trainer, site, desk = tmp_path / "trainer", tmp_path / "site", tmp_path / "desk"
    make_sample_site(trainer, site, policy, "alice")
    publish(hub, policy, tmp_path)
    rid = _ship_from_a_desk(hub, site, tmp_path / "shipping-desk")
    own = X25519PrivateKey.generate()  # what `agentapp hub key` makes on her desk
    store_private_in_keystore(own)
    passwords = {"alice": hub.login("alice", "agent"), "carol": hub.login("carol", "trainer")}
    for who, password in passwords.items():  # as `agentapp hub login` keeps them
        store_secret(HubConfig(hub.url, who, hub.ca).secret_entry, password)
    with hub.connect("alice", passwords["alice"]) as db:
        register_key(db, own.public_key())
    carol = Settings(trainer, "carol", trainer / "policy.toml", AgentConfig(), "carol")
    share = argparse.Namespace(hub=hub.url, user="carol", ca=str(hub.ca), hub_command="share",
                               id=rid, reason="her own review", key=None)  # fmt: skip
    assert hub_share(share, carol) == 0

    desk.mkdir(mode=0o700)
    shutil.copytree(trainer / "keys", desk / "keys")
    (desk / "policy.toml").write_text(policy)
    s = Settings(desk, "alice", desk / "policy.toml",
                 AgentConfig(hub=HubConfig(hub.url, "desk-t", hub.ca)), "alice")  # fmt: skip
    window = MineWindow(HubRecordings(s))
    qtbot.addWidget(window)
    assert window.recs.rowCount() == 1 and window.recs.item(0, 0).text() == rid  # type: ignore[union-attr]
    window.play_selected()
    (player,) = window.players
    qtbot.addWidget(player)
    qtbot.waitUntil(lambda: player.shown >= 3, timeout=5000)
    image = player.picture.pixmap().toImage().convertToFormat(QImage.Format.Format_RGB888)
    c = image.pixelColor(image.width() // 2, image.height() // 3)
    assert abs(c.green() - 160) < 30 and c.red() < 80, c.getRgb()  # her call's own pixels
    pane = player.side
    assert isinstance(pane, GridPane) and pane.boxes[0].title() == "Greeting"
    pane.boxes[0].level.setCurrentIndex(1)
    pane.boxes[0].comment.setPlainText("I rushed the greeting")
    pane.save()
    assert "sealed for your trainers at the hub" in pane.status.text(), pane.status.text()
    with hub.connect("carol", passwords["carol"]) as db:
        (doc,) = documents(db, rid)
        doc = read_document(db, doc.id, "check")
    assert (doc.kind, doc.author, doc.agent) == ("self-review", "alice", "alice")
    assert doc.sealed is not None and b"rushed" not in doc.sealed
    player.close()

    # her trainer fetches the call and fills the grid beside the player: sealed on her
    # console, kept at the hub beside the trainee's own review (not in the site folder)
    from agentapp.core.analysis import from_document
    from agentapp.files import layout
    from agentapp.hub.admin import audit_rows
    from agentapp.hub.training import open_document
    from agentapp.trainer.console import ConsoleModel
    from agentapp.vault.sealing import read_header

    at_hub = AgentConfig(hub=HubConfig(hub.url, "carol", hub.ca))
    s = Settings(trainer, "carol", trainer / "policy.toml", at_hub, "carol")
    console = ConsoleWindow(ConsoleModel(s, site), lambda: [], load_private_from_keystore,
                            reason=lambda *_: "weekly review")  # fmt: skip
    qtbot.addWidget(console)
    console.model.fetch_from_hub(rid, "weekly review")
    pane = console.recordings._grid_pane(rid)
    assert pane is not None and pane.boxes[0].title() == "Greeting"
    pane.boxes[0].level.setCurrentIndex(pane.boxes[0].level.findData("acquired"))
    pane.boxes[0].comment.setPlainText("Warm, by name")
    pane.save()
    assert "sealed at the hub" in pane.status.text(), pane.status.text()
    kept_here = layout.analyses(site)
    assert not kept_here.exists() or not any(kept_here.iterdir())
    with hub.connect("carol", passwords["carol"]) as db:
        docs = {d.kind: read_document(db, d.id, "check") for d in documents(db, rid)}
    assert sorted(docs) == ["analysis", "self-review"] and docs["analysis"].author == "carol"
    sealed = docs["analysis"].sealed
    assert sealed is not None and b"Warm" not in sealed
    site_key = load_private_from_keystore(str(read_header(sealed)[0]["kid"]))
    mark = from_document(open_document(docs["analysis"], site_key)).marks[0]
    assert (mark.criterion, mark.level, mark.comment) == ("Greeting", "acquired", "Warm, by name")
    with hub.admin() as db:
        acts = [(r["db_user"], r["action"], r["target"]) for r in audit_rows(db)]
    assert ("carol", "analysis added", rid) in acts
