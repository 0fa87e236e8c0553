"""The training's documents on a real hub (PostgreSQL, TLS, a login per person): a trainer's
analysis, the trainee's own review and the coaching record, sealed by the client; a recording
shared with its trainee for the key their desk registered. Each role sees only its rows (the
trainee theirs, a trainer their trainings', the DPO and IT the metadata, a desk nothing), the
hub decides whose a document is, and the documents outlive the video to their year."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.core.analysis import Analysis, Mark, document, from_document
from agentapp.core.grid import Criterion, Grid
from agentapp.hub.connect import HubError
from agentapp.vault.sealing import SealError, SlipKeys, seal, slip_for, unseal
from tests.hubs import Hub, Logins, hub_problem, logins_on_a_hub
from tests.integration.conftest import need, run_cli
from tests.integration.test_hub import PEOPLE, POLICY, _one, _ship, rid

psycopg = pytest.importorskip("psycopg")

SITE = X25519PrivateKey.generate()  # the site's recording key (a trainer's key store holds it)
GRID = Grid("CRM onboarding", (Criterion("Greeting", "says who they are"),
                               Criterion("Needs", "asks before answering")))  # fmt: skip


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Logins]]:
    need(hub_problem() is None, f"no PostgreSQL server: {hub_problem()}")
    with logins_on_a_hub(POLICY, PEOPLE, tmp_path_factory.mktemp("policy")) as both:
        yield both


def _hub_cli(
    h: Hub, logins: Logins, tmp: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., tuple[int, str]]:  # fmt: skip
    """`agentapp hub ARGV` as a person: logged in at the hub first (its password in the key
    store, as `hub login` keeps it), in a data folder of their own."""

    def cli(who: str, *argv: str) -> tuple[int, str]:
        secret = tmp / f"{who}.secret"
        secret.write_text(logins.passwords[who])
        where = ["--hub", h.url, "--user", who, "--ca", str(h.ca)]
        folder = tmp / who
        folder.mkdir(exist_ok=True, mode=0o700)
        run_cli(who, folder, monkeypatch, capsys, "hub", "login", *where, "--password-file",
                str(secret))  # fmt: skip
        return run_cli(who, folder, monkeypatch, capsys, "hub", *argv, *where)

    return cli


def _analysis(recording: str, kind: str = "trainer") -> dict[str, Any]:
    marks = (Mark("Greeting", "acquired", "clear", (1.5,)), Mark("Needs", "to_work_on"))
    return document(Analysis(recording, GRID, marks, kind))


def test_each_role_sees_only_its_documents_and_the_dpo_their_metadata(
    hub: tuple[Hub, Logins],
) -> None:
    from agentapp.hub.admin import audit_rows
    from agentapp.hub.training import add_document, documents, open_document, read_document

    _, logins = hub
    assert _ship(logins("desk-a"), "d-gina", "gina", "CRM onboarding") == "stored"
    assert _ship(logins("desk-b"), "d-bob", "bob", "Sales basics") == "stored"
    gina, bob = rid("d-gina"), rid("d-bob")
    carol = logins("carol")
    doc = add_document(carol, "analysis", gina, _analysis(gina), SITE.public_key())
    # a trainer of another training, the trainee, a desk: refused by the hub
    for who, why in (("erin", "no trainer of this recording's training"),
                     ("gina", "knows gina as no trainer"),
                     ("desk-a", "permission denied for function add_document")):  # fmt: skip
        with pytest.raises(HubError, match=why):
            add_document(logins(who), "analysis", gina, _analysis(gina), SITE.public_key())
    # nobody writes the table itself: whose, which training, who and when are the hub's
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        carol.execute(
            "INSERT INTO agentapp.training_docs (kind, recording_id, agent, training, sealed, "
            "author, purge_after) VALUES ('analysis', %s, 'bob', 'Sales basics', 'x', 'erin', "
            "now() + interval '9 years')",
            (bob,),
        )
    carol.rollback()

    def seen(role: str) -> list[int]:
        return [d.id for d in documents(logins(role)) if d.recording_id in (gina, bob)]

    assert seen("carol") == [doc] and seen("gina") == [doc]
    assert seen("erin") == [] and seen("bob") == [] and seen("alice") == []
    assert seen("dan") == seen("it") == [doc]
    with pytest.raises(HubError, match="permission denied for table training_docs"):
        documents(logins("desk-a"))
    # the sealed part: through the hub alone, which traces each read (no login selects it)
    for role in ("carol", "gina", "dan", "it"):
        db = logins(role)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            db.execute("SELECT sealed FROM agentapp.training_docs")
        db.rollback()
    for role in ("dan", "it"):  # the DPO's and IT's logins: the metadata, never the sealed part
        with pytest.raises(HubError, match="permission denied for function read_document"):
            read_document(logins(role), doc, "curious")
    for role in ("erin", "bob"):
        with pytest.raises(HubError, match=f"no document {doc} that you may read"):
            read_document(logins(role), doc, "curious")
        db = logins(role)  # the hub's own answer, not the client's: nothing
        assert db.execute("SELECT * FROM agentapp.read_document(%s, 'x')", (doc,)).fetchall() \
            == []  # fmt: skip
        db.rollback()
    (row,) = documents(carol, gina)
    assert (row.kind, row.agent, row.training, row.author) == (
        "analysis", "gina", "CRM onboarding", "carol")  # fmt: skip
    assert dt.timedelta(days=364) < row.purge_after - row.written_at <= dt.timedelta(days=366)
    assert from_document(open_document(read_document(carol, doc, "weekly review"), SITE)) == \
        Analysis(gina, GRID, (Mark("Greeting", "acquired", "clear", (1.5,)),
                              Mark("Needs", "to_work_on")))  # fmt: skip
    hers = read_document(logins("gina"), doc, "my own")  # her row: its content is the site's
    with pytest.raises(HubError, match="cannot be opened"):
        open_document(hers, X25519PrivateKey.generate())
    trail = [(e["action"], e["who"], e["reason"]) for e in audit_rows(logins("dan"))
             if e["action"].startswith("document")]  # fmt: skip
    for who in ("erin", "bob"):
        assert ("document refused", who, "curious") in trail, trail
    assert ("document read", "carol", f"analysis {doc}: weekly review") in trail, trail
    assert ("document read", "gina", f"analysis {doc}: my own") in trail, trail


def test_a_recording_shared_with_its_trainee_opens_for_her_key_alone_until_withdrawn(
    hub: tuple[Hub, Logins],
) -> None:
    from agentapp.hub.admin import audit_rows
    from agentapp.hub.training import add_document, documents, grants, register_key, share, withdraw

    _, logins = hub
    for tag, agent in (("g-gina", "gina"), ("g-alice", "alice")):
        assert _ship(logins("desk-a"), tag, agent, "CRM onboarding") == "stored"
    assert _ship(logins("desk-b"), "g-bob", "bob", "Sales basics") == "stored"
    rec, alices, bobs = rid("g-gina"), rid("g-alice"), rid("g-bob")
    segment = seal(b"the call's pixels", SITE.public_key(), {"segment": rec})
    trainee, stranger = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    register_key(logins("gina"), trainee.public_key())
    register_key(logins("bob"), stranger.public_key())
    with pytest.raises(HubError, match="permission denied for function register_key"):
        register_key(logins("carol"), stranger.public_key())
    slips = [slip_for(segment, SITE, trainee.public_key())]
    carol, gina = logins("carol"), logins("gina")
    refusals = [
        (carol, rec, "bob", "shared with its own trainee only"),
        (carol, bobs, "bob", "no trainer of this recording's training"),
        (logins("erin"), rec, "gina", "no trainer of this recording's training"),
        (carol, alices, "alice", "alice has no key at the hub yet"),
        (gina, rec, "gina", "permission denied for function share_recording"),
    ]
    for db, target, viewer, why in refusals:
        with pytest.raises(HubError, match=why):
            share(db, target, viewer, slips, "review")
    share(carol, rec, "gina", slips, "weekly review")

    def shared(role: str, with_slips: bool = True) -> list[tuple[str, str]]:
        return [(g.recording_id, g.viewer) for g in grants(logins(role), slips=with_slips)
                if g.recording_id in (rec, alices, bobs)]  # fmt: skip

    assert shared("gina") == shared("carol") == [(rec, "gina")]
    assert shared("bob") == shared("erin") == shared("alice") == []
    assert shared("dan", with_slips=False) == [(rec, "gina")]
    with pytest.raises(HubError, match="permission denied for table grants"):
        grants(logins("dan"))
    # the slips open the segment for her key, and for no other
    (grant,) = [g for g in grants(gina) if g.recording_id == rec]
    assert grant.slips is not None
    assert unseal(segment, SlipKeys(trainee, grant.slips))[1] == b"the call's pixels"
    with pytest.raises(SealError):
        unseal(segment, SlipKeys(stranger, grant.slips))
    # her own review, while the grant holds; not another trainee's on her call
    review = add_document(
        gina, "self-review", rec, _analysis(rec, "self-review"), SITE.public_key()
    )
    with pytest.raises(HubError, match="is not shared with you"):
        add_document(logins("bob"), "self-review", rec, _analysis(rec, "self-review"),
                     SITE.public_key())  # fmt: skip
    assert [d.id for d in documents(carol, rec)] == [review]  # it reaches her trainer
    # a trainer of another training learns nothing of it: the same answer as for no grant
    assert withdraw(logins("erin"), rec, "gina", "done") is False
    assert withdraw(logins("erin"), rec, "bob", "done") is False
    assert shared("gina") == [(rec, "gina")]
    assert withdraw(carol, rec, "gina", "done") and not withdraw(carol, rec, "gina", "done")
    assert shared("gina") == shared("carol") == []
    with pytest.raises(HubError, match="is not shared with you"):
        add_document(gina, "self-review", rec, _analysis(rec, "self-review"), SITE.public_key())
    trail = [(e["action"], e["target"]) for e in audit_rows(logins("dan"))]
    for entry in (("key registered", "gina"), ("recording shared", rec),
                  ("self-review added", rec), ("share withdrawn", rec)):  # fmt: skip
        assert entry in trail, entry


def test_the_documents_outlive_the_video_to_their_year(hub: tuple[Hub, Logins]) -> None:
    from agentapp.hub.admin import audit_rows, purge
    from agentapp.hub.training import add_document, documents, grants, register_key, share

    h, logins = hub
    assert _ship(logins("desk-b"), "y-bob", "bob", "Sales basics", age_days=183.01, hub=h) == (
        "stored"
    )
    rec, erin = rid("y-bob"), logins("erin")
    analysis = add_document(erin, "analysis", rec, {"words": "an analysis"}, SITE.public_key())
    register_key(logins("bob"), X25519PrivateKey.generate().public_key())
    share(erin, rec, "bob", [{"file": "f", "kid": "k"}], "review")
    assert purge(logins("it")).recordings >= 1  # the video at its six months, and the grant with it
    assert rec not in [g.recording_id for g in grants(erin)]
    assert [d.id for d in documents(erin, rec)] == [analysis]  # the analysis stays
    # the coaching session after the video has gone: on the recording the trainer wrote on
    coaching = add_document(erin, "coaching", rec, {"words": "next steps"}, SITE.public_key())
    with pytest.raises(HubError, match="no trainer of this recording's training"):
        add_document(logins("carol"), "coaching", rec, {"words": "x"}, SITE.public_key())
    with h.admin() as su:  # a year after the analysis was written
        su.execute("UPDATE agentapp.training_docs SET purge_after = now() - interval '1 second' "
                   "WHERE id = %s", (analysis,))  # fmt: skip
    assert purge(logins("it")).documents == 1
    assert [d.id for d in documents(erin, rec)] == [coaching]
    purged = [e for e in audit_rows(logins("dan")) if e["action"] == "analysis purged"]
    assert [(e["target"], e["who"]) for e in purged] == [(rec, "bob")]


def test_the_cli_shares_a_real_sealed_call_at_the_hub_and_lists_the_documents(
    hub: tuple[Hub, Logins],
    keystore: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`agentapp hub key` on the trainee's side, `hub share` and `hub withdraw` on the
    trainer's (the slips made with the site's key from her key store), `hub documents` for
    each role; a hostile id is refused in one line before anything is asked of the hub."""
    import hashlib

    from psycopg.types.json import Jsonb

    from agentapp.hub.training import documents, grants, open_document, read_document
    from agentapp.vault.keys import load_private_from_keystore, store_private_in_keystore
    from agentapp.vault.sealing import read_header
    from tests.hubs import meta, new_rid

    h, logins = hub
    rec = new_rid()
    segment = seal(b"the call's pixels", SITE.public_key(), {"segment": rec})
    desk = logins("desk-a")
    assert _one(desk, "SELECT agentapp.reserve_slot(%s, 'alice')", (rec,)) == "reserved"
    shipped = desk.execute(  # the row and its segments in one transaction, as a desk does
        "SELECT agentapp.ship_recording(%s)", (Jsonb(meta(rec, "alice", "CRM onboarding")),)
    ).fetchone()[0]
    assert shipped == "stored"
    desk.execute("SELECT agentapp.ship_segment(%s, 'seg-000000.seal', %s, %s)",
                 (rec, segment, hashlib.sha256(segment).hexdigest()))  # fmt: skip
    desk.commit()
    store_private_in_keystore(SITE)  # the trainer's key store holds the site's key

    cli = _hub_cli(h, logins, tmp_path, monkeypatch, capsys)

    code, said = cli("carol", "share", rec, "--reason", "weekly review")
    assert code == 1 and "alice has no key at the hub yet" in said, said
    code, said = cli("alice", "key")
    assert code == 0 and "registered at the hub" in said, said
    code, said = cli("carol", "share", rec, "--reason", "weekly review")
    assert code == 0 and f"{rec} shared with alice at the hub (1 sealed files)" in said, said
    (grant,) = [g for g in grants(logins("alice")) if g.recording_id == rec]
    assert grant.slips is not None
    mine = load_private_from_keystore(grant.slips[0]["kid"])  # her key, from her key store
    assert unseal(segment, SlipKeys(mine, grant.slips))[1] == b"the call's pixels"
    assert read_header(segment)[0]["kid"] != grant.slips[0]["kid"]
    # her analysis from a filled form, checked on her policy's grid, kept at the hub
    from agentapp.vault.keys import public_key_path, write_public_key
    from tests.policies import GRID as GRID_TOML

    for trainer in ("carol", "erin"):  # (the data folders _hub_cli runs their commands in)
        folder = tmp_path / trainer
        folder.mkdir(exist_ok=True, mode=0o700)
        (folder / "policy.toml").write_text(POLICY + GRID_TOML)
        write_public_key(SITE.public_key(), public_key_path(folder))
    form = tmp_path / "form.toml"
    form.write_text('[[mark]]\ncriterion = "Greeting"\nlevel = "acquis"\ncomment = "clear"\n'
                    '[[mark]]\ncriterion = "Price"\nlevel = "acquis"\n')  # fmt: skip
    code, said = cli("carol", "analysis", rec, str(form))
    assert code == 1 and "'Price' is not a criterion of the grid" in said, said
    form.write_text(form.read_text().split('[[mark]]\ncriterion = "Price"')[0])
    code, said = cli("erin", "analysis", rec, str(form))  # a trainer of another training
    assert code == 1 and said.count("\n") == 1, said
    assert f"no recording {rec} that you may see at the hub" in said, said
    code, said = cli("carol", "analysis", rec, str(form))
    assert code == 0 and "is at the hub, sealed" in said, said
    (doc,) = [d for d in documents(logins("carol"), rec) if d.kind == "analysis"]
    sealed = read_document(logins("carol"), doc.id, "check")
    assert sealed.sealed is not None and b"clear" not in sealed.sealed
    mark = from_document(open_document(sealed, SITE)).marks[0]
    assert (mark.criterion, mark.level, mark.comment) == ("Greeting", "acquired", "clear")
    for who in ("carol", "alice", "dan"):
        code, said = cli(who, "documents", rec)
        assert code == 0 and f"analysis     {rec}  alice  CRM onboarding  by carol" in said, said
    code, said = cli("bob", "documents", rec)
    assert code == 0 and "no training document" in said, said
    _coaching_at_the_hub(cli, logins, rec, doc.id, tmp_path)
    for hostile in ("../../etc/passwd", "x" * 5000):
        code, said = cli("carol", "share", hostile, "--reason", "weekly review")
        assert code == 2 and said.count("\n") == 1 and "is not a recording id" in said, said
    code, said = cli("carol", "withdraw", rec, "--reason", "reviewed together")
    assert code == 0 and f"the share of {rec} is withdrawn" in said, said
    assert [g for g in grants(logins("alice")) if g.recording_id == rec] == []


def _coaching_at_the_hub(
    cli: Callable[..., tuple[int, str]], logins: Logins, rec: str, analysis: int, tmp: Path
) -> None:
    """`hub coaching` from the trainer's analysis and the trainee's self-review at the hub
    (each read traced there), `hub document` to read it and write its PDF; another
    training's trainer and the DPO cannot read it, and a self-review is no analysis."""
    from agentapp.files import layout
    from agentapp.hub.admin import audit_rows
    from agentapp.hub.training import add_document
    from agentapp.vault.exports import ExportsIndex

    review = add_document(logins("alice"), "self-review", rec, _analysis(rec, "self-review"),
                          SITE.public_key())  # fmt: skip
    steps = tmp / "steps.txt"
    steps.write_text("Annoncer le prix avant le délai.\n")
    today = dt.date.today().isoformat()
    common = ("--session", today, "--next-steps", str(steps))
    code, said = cli("carol", "coaching", rec, *common, "--analysis", str(review))
    assert code == 1 and f"document {review} is a self-review, not an analysis" in said, said
    code, said = cli("carol", "coaching", rec, *common, "--analysis", str(analysis),
                     "--self-review", str(review))  # fmt: skip
    assert code == 0 and f"on {rec} is at the hub, sealed, for a year" in said, said
    n = said.split("coaching record ")[1].split()[0]
    assert f"given to alice, who reads it on their desk with `agentapp hub document {n}`" in said
    # the trainee reads her record with her own key (its slip), and nothing else of it
    from agentapp.hub.training import open_document, read_document
    from agentapp.vault.keys import load_private_from_keystore
    from agentapp.vault.sealing import SlipKeys

    hers = read_document(logins("alice"), int(n), "my session")
    assert hers.slip is not None
    own = SlipKeys(load_private_from_keystore(hers.slip["kid"]), [hers.slip])
    assert open_document(hers, own)["next_steps"] == "Annoncer le prix avant le délai."
    with pytest.raises(HubError, match="cannot be opened"):
        open_document(hers, SlipKeys(X25519PrivateKey.generate(), [hers.slip]))
    her_analysis = read_document(logins("alice"), analysis, "mine too?")
    assert her_analysis.slip is None
    with pytest.raises(HubError, match="cannot be opened"):
        open_document(her_analysis, own)
    code, said = cli("alice", "document", n, "--reason", "my session")
    assert code == 0 and "Coaching record of alice" in said and "Annoncer" in said, said
    code, said = cli("bob", "document", n, "--reason", "curious")
    assert code == 1 and f"no document {n} that you may read at the hub" in said, said
    code, said = cli("carol", "document", n, "--reason", "coaching session")
    assert code == 0 and "Coaching record of alice" in said and "Greeting" in said, said
    assert "Annoncer le prix avant le délai." in said, said
    pdf = tmp / "session.pdf"
    code, said = cli("carol", "document", n, "--reason", "coaching session", "--out", str(pdf))
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF"), said
    listed = ExportsIndex(layout.exports(tmp / "carol")).records()
    assert [r.path for r in listed] == [str(pdf)], listed
    for who, why in (("erin", f"no document {n} that you may read at the hub"),
                     ("dan", "permission denied")):  # fmt: skip
        code, said = cli(who, "document", n, "--reason", "curious")
        assert code == 1 and said.count("\n") == 1 and why in said, said
    with pytest.raises(SystemExit) as refused:  # (argparse's own one line and status)
        cli("carol", "document", "../../etc/passwd", "--reason", "x")
    assert refused.value.code == 2
    trail = [(e["action"], e["who"]) for e in audit_rows(logins("dan"))
             if e["target"] in (rec, f"document {n}")]  # fmt: skip
    assert ("coaching added", "alice") in trail
    # the test's own read of the analysis, the refused kind, two for the record, one, the PDF
    assert trail.count(("document read", "carol")) == 6
    assert ("document refused", "erin") in trail and ("export file", "carol") in trail
    assert ("coaching record given", "alice") in trail
    assert trail.count(("document read", "alice")) == 3  # her record twice, her analysis


def test_the_trainee_watches_her_shared_call_from_the_hub_and_no_one_else_can(
    hub: tuple[Hub, Logins],
    keystore: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A real sealed call shipped by a desk, shared by its trainer at the hub: its trainee's
    `hub mine` lists it and it opens on her desk with her own key (its frames decoded from
    memory, watermarked, no plaintext written); another agent's login is refused and traced;
    withdrawn, it is gone from her list and refused."""
    import hashlib
    import json

    import numpy as np
    from psycopg.types.json import Jsonb

    from agentapp.agent.settings import Settings
    from agentapp.cli.hub_mine import hub_playback
    from agentapp.core.config import AgentConfig
    from agentapp.core.errors import Refusal
    from agentapp.demo.run import make_sample_site
    from agentapp.hub.admin import audit_rows
    from agentapp.vault.export import BAND
    from agentapp.vault.playback import Playback
    from agentapp.vault.store import Vault
    from tests.policies import ACCESS, policy_text

    h, logins = hub
    trainer, site = tmp_path / "trainer", tmp_path / "site"
    make_sample_site(trainer, site, policy_text("alice", extra=ACCESS), "alice")
    (sample,) = Vault(site / "recordings").recordings()
    rec = sample.id
    desk = logins("desk-a")
    assert _one(desk, "SELECT agentapp.reserve_slot(%s, 'alice')", (rec,)) == "reserved"
    with h.admin() as su:  # (the sample call began ten minutes ago)
        su.execute("UPDATE agentapp.reservations SET at = to_timestamp(%s) WHERE recording_id = %s",
                   (sample.started_at, rec))  # fmt: skip
    shipped = desk.execute("SELECT agentapp.ship_recording(%s)",
                           (Jsonb(sample.to_json()),)).fetchone()[0]  # fmt: skip
    assert shipped == "stored", shipped
    for path in Vault(site / "recordings").segment_paths(rec):
        data = path.read_bytes()
        desk.execute("SELECT agentapp.ship_segment(%s, %s, %s, %s)",
                     (rec, path.name, data, hashlib.sha256(data).hexdigest()))  # fmt: skip
    desk.commit()

    cli = _hub_cli(h, logins, tmp_path, monkeypatch, capsys)

    def watch(who: str) -> Playback:
        args = argparse.Namespace(hub=h.url, user=who, ca=str(h.ca))
        folder = tmp_path / who
        return hub_playback(args, Settings(folder, who, folder / "policy.toml", AgentConfig(), who),
                            rec, "my own review")  # fmt: skip

    assert cli("alice", "key")[0] == 0
    assert cli("carol", "share", rec, "--reason", "weekly review")[0] == 0
    code, said = cli("alice", "mine", "--json")
    assert code == 0 and [g["id"] for g in json.loads(said)] == [rec], said
    code, said = cli("bob", "mine")
    assert code == 0 and "no recording is shared with you at the hub" in said, said

    playback = watch("alice")
    _t, frame = next(playback.frames_from(0.2))
    call = frame[: playback.size[1] - BAND, :, :3]  # (the watermark's band under it)
    green = (np.abs(call.astype(int) - (60, 160, 40)).max(axis=2) < 30).mean()
    assert green > 0.5, green  # the call's own pixels, opened with her key and the slips
    assert not list((tmp_path / "alice").glob("hub-shared-*"))  # its sealed files are gone too

    with pytest.raises(Refusal, match="is not shared with you at the hub"):
        watch("bob")
    monkeypatch.setenv("DISPLAY", ":0")  # (refused before any window is made)
    code, said = cli("bob", "watch", rec)
    assert code != 0 and "is not shared with you at the hub" in said, said
    assert cli("carol", "withdraw", rec, "--reason", "reviewed together")[0] == 0
    assert "no recording is shared" in cli("alice", "mine")[1]
    with pytest.raises(Refusal, match="is not shared with you at the hub"):
        watch("alice")
    trail = [(e["action"], e["target"], e["who"]) for e in audit_rows(logins("dan"))]
    for entry in (("view shared", rec, "alice"), ("view refused", rec, "bob"),
                  ("view refused", rec, "alice")):  # fmt: skip
        assert entry in trail, entry


def _shape(db: Any) -> list[tuple[Any, ...]]:
    """What a hub's schema is made of: its functions (definitions and grants), its tables'
    and columns' grants, its version. (Names printed as this session's search path shows
    them: the same path for both hubs compared.)"""
    db.execute("SET search_path TO DEFAULT")
    functions = db.execute(
        "SELECT p.proname, pg_get_function_identity_arguments(p.oid), "
        "md5(pg_get_functiondef(p.oid)), p.proacl::text, pg_get_userbyid(p.proowner) "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'agentapp' AND p.prokind = 'f' ORDER BY 1, 2"
    ).fetchall()
    tables = db.execute(
        "SELECT c.relname, c.relacl::text, a.attname, a.attacl::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND a.attacl IS NOT NULL "
        "WHERE n.nspname = 'agentapp' ORDER BY 1, 3"
    ).fetchall()
    db.execute("SET ROLE agentapp_owner")
    version = db.execute("SELECT value FROM agentapp.hub_settings WHERE key = 'schema'").fetchall()
    db.execute("RESET ROLE")
    db.rollback()
    return [*functions, *tables, *version]


def test_a_schema_5_hub_is_upgraded_to_what_a_new_hub_is(
    hub: tuple[Hub, Logins], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`agentapp hub upgrade` brings a hub made with schema 5 (as `hub init` made them before
    schema 6) to this program's schema in one transaction: its functions, grants and version
    are then a new hub's; a second run changes nothing; a hub newer than the program is
    refused in one line, nothing changed."""
    from agentapp.hub.schema import SCHEMA_FILE, latest, upgrade

    h, _logins = hub
    with h.cluster.admin("postgres") as db:
        db.autocommit = True
        db.execute("CREATE DATABASE old5")
    try:
        with h.cluster.admin("old5") as old, h.cluster.admin() as new:
            old.execute(SCHEMA_FILE.read_text(encoding="utf-8"))
            old.execute("SET ROLE agentapp_owner")
            old.execute("INSERT INTO agentapp.hub_settings VALUES ('schema', '5'), "
                        "('timezone', 'Europe/Paris')")  # fmt: skip
            old.execute("RESET ROLE")
            old.commit()
            before = _shape(old)
            assert before != _shape(new)
            assert latest() >= 6 and upgrade(old) == (5, latest())
            assert _shape(old) == _shape(new)
            assert upgrade(old) == (latest(), latest())
            old.execute("SET ROLE agentapp_owner")
            old.execute("UPDATE agentapp.hub_settings SET value = %s WHERE key = 'schema'",
                        (str(latest() + 1),))  # fmt: skip
            old.execute("RESET ROLE")
            old.commit()
            with pytest.raises(HubError, match=f"schema {latest() + 1}, newer than this"):
                upgrade(old)
    finally:
        with h.cluster.admin("postgres") as db:
            db.autocommit = True
            db.execute("DROP DATABASE old5 WITH (FORCE)")
    code, said = run_cli("it", tmp_path, monkeypatch, capsys, "hub", "upgrade", "--dir",
                         str(h.cluster.folder))  # fmt: skip
    assert code == 0 and f"the hub has schema {latest()} already" in said, said
