"""The text catalogue: every marked text has a French translation, with the same
placeholders, and the compiled file the program reads is fresh (scripts/i18n.py --check)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from agentapp import i18n

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import i18n as catalogue_tool  # noqa: E402  (scripts/i18n.py)


def test_every_text_has_a_french_translation_and_the_mo_is_fresh(capsys) -> None:  # type: ignore[no-untyped-def]
    code = catalogue_tool.main(["--check"])
    assert code == 0, capsys.readouterr().out


def test_the_check_fails_on_a_text_without_translation(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The test above can fail: a text added to the code, not to fr.po, is reported."""
    extra = tmp_path / "agentapp"
    extra.mkdir()
    (extra / "new.py").write_text('from agentapp.i18n import _\n_("A brand new text")\n')
    real = catalogue_tool.extracted

    def with_new() -> object:
        template = real()
        template.add("A brand new text", None, [("agentapp/new.py", 2)])
        return template

    monkeypatch.setattr(catalogue_tool, "extracted", with_new)
    assert catalogue_tool.main(["--check"]) == 1


def test_placeholders_are_the_same_in_both_languages() -> None:
    with (ROOT / "agentapp/i18n/fr.po").open("rb") as f:
        catalog = read_po(f)
    for m in catalog:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        want = set(re.findall(r"\{[^}]*\}", ids[-1]))
        for s in strings:
            assert set(re.findall(r"\{[^}]*\}", s)) == want, (m.id, s)


def test_the_program_reads_the_catalogue() -> None:
    assert i18n.texts("fr").gettext("Resume recording") == "Reprendre l'enregistrement"
    assert i18n.texts("en").gettext("Resume recording") == "Resume recording"
    assert i18n.texts("fr").ngettext("matches {n} open window", "matches {n} open windows",
                                     2) == "correspond à {n} fenêtres ouvertes"  # fmt: skip
    assert i18n.date("2026-12-01", "fr") == "1 décembre 2026"
    assert i18n.date("2026-12-01", "en") == "1 December 2026"
    assert i18n.number(1.5, "fr") == "1,5" and i18n.number(1.5, "en") == "1.5"
    assert i18n.duration(185) == "3 min 05 s" and i18n.duration(3725) == "1 h 02 min"


def test_a_text_shown_in_two_places_reads_right_in_each() -> None:
    """The tray's "Recording" is a state, a column's is a noun (msgctxt "column")."""
    before = i18n.current()
    try:
        i18n.use("fr")
        assert i18n._("Recording") == "Enregistrement en cours"
        assert i18n.pgettext("column", "Recording") == "Enregistrement"
        i18n.use("en")
        assert i18n.pgettext("column", "Recording") == "Recording"
    finally:
        i18n.use(before)


def test_the_watermark_is_in_the_reviewers_language() -> None:
    from agentapp.vault.export import mark_text

    before = i18n.current()
    try:
        i18n.use("fr")
        viewed = mark_text("alice", "carol", "viewed")
        assert viewed.startswith("alice - vu par carol le ") and "formation uniquement" in viewed
        shared = mark_text("alice", "carol", "exported", anonymised=True)
        assert shared.startswith("extrait ANONYMISÉ - exporté par carol") and "alice" not in shared
        i18n.use("en")
        assert mark_text("alice", "carol", "viewed").endswith("UTC - training only")
    finally:
        i18n.use(before)
