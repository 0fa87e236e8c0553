"""The analysis grid on a recording through the real command line, a real key store and a
sample site (R1, R7–R9): the trainer fills the form and it is sealed (no plaintext on disk);
only the training's trainers read it, each act traced; hostile forms and ids are refused in one
line; the analysis outlives its recording and goes at its year, traced."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import tomlkit

from agentapp import cli
from agentapp.demo.run import make_sample_site
from agentapp.vault.analyses import AnalysesStore
from agentapp.vault.audit import AuditLog
from agentapp.vault.keys import keystore_problem
from agentapp.vault.purge import purge_expired
from agentapp.vault.store import Vault
from tests.fakes import site_trail_entries
from tests.integration.conftest import need
from tests.policies import ACCESS, GRID, policy_text

POLICY = policy_text("alice", extra=ACCESS + GRID)  # carol trains alice; bob is an agent
COMMENT = "Warm greeting; the company's name came late"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    trainer, site = tmp_path / "trainer", tmp_path / "site"
    make_sample_site(trainer, site, POLICY, "alice")
    (site / "policy.toml").write_text(POLICY)  # the site folder read as a data folder
    shutil.copytree(trainer / "keys", site / "keys", dirs_exist_ok=True)
    (rid,) = [m.id for m in Vault(site / "recordings").recordings()]
    monkeypatch.chdir(tmp_path)
    return site, rid


def _run(who: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         site: Path, *argv: str) -> tuple[int, str]:  # fmt: skip
    monkeypatch.setenv("AGENTAPP_USER", who)
    code = cli.main([*argv, "--data-dir", str(site)])
    out = capsys.readouterr()
    return code, out.out + out.err


def _fill(form: Path, **marks: dict[str, object]) -> None:
    doc = tomlkit.parse(form.read_text())
    for mark in doc["mark"]:  # type: ignore[union-attr]
        mark.update(marks.get(str(mark["criterion"]), {}))  # type: ignore[union-attr, index]
    form.write_text(tomlkit.dumps(doc))


def test_a_trainer_fills_the_grid_it_is_sealed_and_only_trainers_read_it(
    site: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder, rid = site
    form = tmp_path / "form.toml"
    code, out = _run("carol", monkeypatch, capsys, folder, "analysis", "form", rid,
                     "--out", str(form))  # fmt: skip
    assert code == 0, out
    assert "Says who they are" in form.read_text() and "not seen" in form.read_text()
    code, out = _run("carol", monkeypatch, capsys, folder, "analysis", "form", rid,
                     "--out", str(form))  # fmt: skip
    assert code != 0 and "cannot write the form" in out  # never over another file
    _fill(form, Greeting={"level": "acquis", "comment": COMMENT, "moments": [0.4]},
          Rephrasing={"level": "to work on"})  # fmt: skip
    code, out = _run("carol", monkeypatch, capsys, folder, "analysis", "add", rid, str(form))
    assert code == 0 and "sealed; purged on" in out, out
    (meta,) = AnalysesStore(folder / "analyses").analyses()
    files = sorted(p.name for p in (folder / "analyses").iterdir())
    assert files == [f"{meta.id}.json", f"{meta.id}.seal"]
    sealed = (folder / "analyses" / f"{meta.id}.seal").read_bytes()
    assert COMMENT.encode() not in sealed and b"Greeting" not in sealed  # no plaintext on disk
    assert (folder / "analyses").stat().st_mode & 0o077 == 0

    code, out = _run("carol", monkeypatch, capsys, folder, "analysis", "show", meta.id,
                     "--reason", "weekly coaching of alice")  # fmt: skip
    assert code == 0, out
    assert "Greeting — acquired" in out and COMMENT in out and "moments: 0:00" in out
    assert "Rephrasing — to work on" in out
    code, out = _run("carol", monkeypatch, capsys, folder, "analysis", "list")
    assert code == 0 and meta.id in out and "by carol" in out

    # bob is not a trainer of the training: refused, traced, nothing written or read
    code, out = _run("bob", monkeypatch, capsys, folder, "analysis", "add", rid, str(form))
    assert code != 0 and "only a trainer of 'CRM onboarding'" in out
    code, out = _run("bob", monkeypatch, capsys, folder, "analysis", "show", meta.id,
                     "--reason", "curious about it")  # fmt: skip
    assert code != 0 and COMMENT not in out
    code, out = _run("bob", monkeypatch, capsys, folder, "analysis", "list")
    assert code == 0 and meta.id not in out
    assert len(AnalysesStore(folder / "analyses").analyses()) == 1
    acts = [(e["who"], e["action"], e["target"]) for e in site_trail_entries(folder)]
    assert ("carol", "add analysis", rid) in acts and ("carol", "view analysis", meta.id) in acts
    assert ("bob", "refused analysis", rid) in acts and ("bob", "refused analysis", meta.id) in acts
    reasons = [e["reason"] for e in site_trail_entries(folder) if e["action"] == "view analysis"]
    assert reasons == ["weekly coaching of alice"]


@pytest.mark.parametrize(
    ("marks", "extra", "said"),
    [
        ({"Greeting": {"level": 4}}, "", "never a number"),
        ({"Greeting": {"score": 17}}, "", "never a score"),
        ({}, "total = 12\n", "unknown key 'total'"),
        ({"Greeting": {"moments": [3600]}}, "", "not a moment of this recording"),
        ({"Greeting": {"level": "excellent"}}, "", "is not a level"),
        ({}, "[[mark]]\ncriterion = 'Bonus points'\n", "not a criterion of the grid"),
    ],
)
def test_a_form_that_does_not_fit_the_grid_is_refused_in_one_line_and_nothing_is_kept(
    site: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], marks: dict[str, dict[str, object]], extra: str,
    said: str,
) -> None:  # fmt: skip
    folder, rid = site
    form = tmp_path / "form.toml"
    _run("carol", monkeypatch, capsys, folder, "analysis", "form", rid, "--out", str(form))
    _fill(form, **marks)
    form.write_text(extra + form.read_text() if "=" in extra and "[[" not in extra
                    else form.read_text() + extra)  # fmt: skip
    code, out = _run("carol", monkeypatch, capsys, folder, "analysis", "add", rid, str(form))
    assert code != 0 and said in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    assert not AnalysesStore(folder / "analyses").analyses()
    assert "add analysis" not in [e["action"] for e in site_trail_entries(folder)]


def test_hostile_ids_and_files_never_become_paths(
    site: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder, rid = site
    store = folder / "analyses"
    store.mkdir(mode=0o700)
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (store / "..%2F..%2Foutside.json").write_text(
        '{"id": "../../outside", "recording": "r", "training": "CRM onboarding", "author": "x",'
        ' "created_at": 0, "purge_after": 0}'
    )
    assert AnalysesStore(store).analyses() == []  # an id that is not an analysis id: ignored
    for hostile in ("../../outside", "20261207T101500Z-n0123abcd", "/etc/passwd"):
        code, out = _run("carol", monkeypatch, capsys, folder, "analysis", "show", hostile,
                         "--reason", "trying a path")  # fmt: skip
        assert code != 0 and "no analysis" in out and "Traceback" not in out, out
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 300_000)
    code, out = _run("carol", monkeypatch, capsys, folder, "analysis", "add", rid, str(big))
    assert code != 0 and "larger than" in out
    assert outside.read_text() == "{}"


def test_the_analysis_outlives_its_recording_and_goes_at_its_year(
    site: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from agentapp.core.policy import parse_policy

    folder, rid = site
    form = tmp_path / "form.toml"
    _run("carol", monkeypatch, capsys, folder, "analysis", "form", rid, "--out", str(form))
    _fill(form, Greeting={"level": "in progress", "comment": COMMENT})
    assert _run("carol", monkeypatch, capsys, folder, "analysis", "add", rid, str(form))[0] == 0
    (meta,) = AnalysesStore(folder / "analyses").analyses()
    policy = parse_policy(POLICY)
    audit = AuditLog(folder / "purge-trail.jsonl")
    day = 86400.0
    done = purge_expired(folder, time.time() + 190 * day, policy, audit)
    assert [(p.kind, p.id) for p in done] == [("recording", rid)]  # six months: the video goes
    assert not Vault(folder / "recordings").recordings()
    code, out = _run("carol", monkeypatch, capsys, folder, "analysis", "show", meta.id,
                     "--reason", "coaching session")  # fmt: skip
    assert code == 0 and COMMENT in out, out  # what was learnt stays, without the video
    assert purge_expired(folder, meta.purge_after - 60, policy, audit) == []
    done = purge_expired(folder, meta.purge_after + 1, policy, audit)
    assert [(p.kind, p.id) for p in done] == [("analysis", meta.id)]
    assert list((folder / "analyses").iterdir()) == []
    assert meta.purge_after - meta.created_at == policy.notes_retention_days * day <= 365 * day
    purged = [(e["action"], e["target"]) for e in audit.entries()]
    assert purged == [("purge", f"recording {rid}"), ("purge", f"analysis {meta.id}")]
