"""Every relative link of the README and the docs resolves to a file the repository ships
(no ../shared/, nothing outside the clone), and every file the code's messages name exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
MENTION = re.compile(r"\b(docs/[\w./-]+\.md|resources/[\w./-]+)")


def _shipped() -> set[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout  # fmt: skip
    return set(out.split())


def _ships(rel: str, shipped: set[str]) -> bool:
    rel = rel.rstrip("/")
    return rel in shipped or any(s.startswith(rel + "/") for s in shipped)


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
            *sorted((ROOT / "installer").rglob("*.md")), ROOT / "bench" / "README.md"]  # fmt: skip


def test_every_relative_link_resolves_inside_the_repository() -> None:
    shipped = _shipped()
    broken = []
    checked = 0
    for doc in _documents():
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (doc.parent / target.split("#")[0]).resolve()
            checked += 1
            try:
                rel = str(path.relative_to(ROOT))
            except ValueError:
                broken.append(f"{doc.relative_to(ROOT)} → {target} (outside the repository)")
                continue
            if not _ships(rel, shipped):
                broken.append(f"{doc.relative_to(ROOT)} → {target}")
    assert broken == []
    assert checked > 20  # the check read real links


def test_files_named_by_the_docs_and_the_messages_exist() -> None:
    shipped = _shipped()
    sources = [*_documents(), *sorted((ROOT / "agentapp").rglob("*.py")),
               ROOT / "agentapp/i18n/fr.po"]  # fmt: skip
    missing = sorted({f"{p.relative_to(ROOT)} names {m}" for p in sources
                      for m in MENTION.findall(p.read_text(encoding="utf-8"))
                      if not _ships(m.rstrip("."), shipped)})  # fmt: skip
    assert missing == []


def test_nothing_points_outside_the_project() -> None:
    for doc in [*_documents(), *sorted((ROOT / "agentapp").rglob("*.py"))]:
        assert "../shared" not in doc.read_text(encoding="utf-8"), doc
