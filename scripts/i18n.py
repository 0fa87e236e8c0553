"""Extract every marked text from agentapp/, merge it into agentapp/i18n/fr.po (keeping the
translations, marking new texts untranslated), and compile fr.po to the .mo the program
reads. Run after changing a text: `.venv/bin/python scripts/i18n.py` (`--check`: change
nothing, exit 1 when the catalogue is incomplete or the .mo stale; the test suite does it).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "agentapp/i18n/fr.po"
MO = ROOT / "agentapp/i18n/fr/LC_MESSAGES/agentapp.mo"


def extracted() -> Catalog:
    template = Catalog(project="agentapp", msgid_bugs_address="", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT / "agentapp",
        method_map=[("**.py", "python")],
        keywords=DEFAULT_KEYWORDS,
        comment_tags=("TRANSLATORS:",),
    ):
        template.add(message, None, [(f"agentapp/{filename}", lineno)],
                     auto_comments=comments, context=context)  # fmt: skip
    return template


def merged() -> Catalog:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="fr")
    catalog.update(extracted(), no_fuzzy_matching=True, update_creation_date=False)
    catalog.obsolete.clear()
    return catalog


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def missing(catalog: Catalog) -> list[str]:
    """The texts with no French translation (or only a fuzzy one)."""
    gaps = []
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy or not all(strings):
            gaps.append(m.id if isinstance(m.id, str) else m.id[0])
    return gaps


def _pairs(catalog: Catalog) -> set[tuple[object, object, object]]:
    return {(m.context, m.id, m.string) for m in catalog if m.id}


def same_texts(catalog: Catalog, po: Path) -> bool:
    """fr.po holds exactly the code's texts, with the same translations (the header and
    the order aside, which differ between Babel versions)."""
    with po.open("rb") as f:
        return _pairs(read_po(f, locale="fr")) == _pairs(catalog)


def mo_agrees(catalog: Catalog) -> bool:
    """The compiled file the program reads gives fr.po's translation of every text."""
    import gettext

    try:
        with MO.open("rb") as f:
            mo = gettext.GNUTranslations(f)
    except OSError:
        return False
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, tuple):
            if any(mo.ngettext(m.id[0], m.id[1], n) != (m.string[0] if n == 1 else m.string[1])
                   for n in (1, 2)):  # fmt: skip
                return False
        elif m.string:
            read = mo.pgettext(m.context, m.id) if m.context else mo.gettext(m.id)
            if read != m.string:
                return False
    return True


def main(argv: list[str]) -> int:
    catalog = merged()
    po = io.BytesIO()
    write_po(po, catalog, width=100, omit_header=False, include_lineno=False)
    if "--check" in argv:
        stale = not same_texts(catalog, PO) or not mo_agrees(catalog)
        gaps = missing(catalog)
        for text in gaps:
            print(f"no French translation: {text!r}")
        if stale:
            print("agentapp/i18n/fr.po or its .mo is not up to date: run scripts/i18n.py")
        return 1 if gaps or stale else 0
    PO.write_bytes(po.getvalue())
    MO.parent.mkdir(parents=True, exist_ok=True)
    MO.write_bytes(compiled(catalog))
    gaps = missing(catalog)
    print(f"{len(catalog) - 1} texts, {len(gaps)} without a French translation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
