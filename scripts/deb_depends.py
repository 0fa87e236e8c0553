"""The Debian package's Depends: what the bundle's ELF files link to from Debian (found by
dpkg-shlibdeps, as debhelper does), and what the program loads by name at run time (ctypes:
mss, capture/xshm.py, platform/xcb.py; the watermark's font), which no ELF file names.

Usage: python scripts/deb_depends.py STAGE   (STAGE/debian/agentapp is the package tree)
Prints the field's value. Needs dpkg-dev.

dpkg-shlibdeps reads every ELF file's symbols (about 50 CPU seconds for this bundle). With
$AGENTAPP_BUILD_CACHE set to a folder, its answer is kept there under a digest of everything
it depends on (each ELF file's path and bytes; the installed packages, their versions and
states, dpkg-dev's among them), so a second build of the same bundle on the same machine
reuses it, and any change computes it again.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

FIXED = ["debconf (>= 0.5) | debconf-2.0"]
BY_NAME = [
    "libx11-6", "libxfixes3", "libxrandr2",  # mss (Xlib backend)
    "libxcb1", "libxcb-shm0", "libxcb-randr0", "libxcb-xfixes0",  # mss (xcb), our XShm reads
    "fonts-dejavu-core | fonts-liberation2",  # Qt draws the watermark's text with it
    "libpq5",  # psycopg (the site hub, agentapp/hub/) loads libpq by name
]  # fmt: skip


def _elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


def _digest(files: list[Path], stage: Path) -> str:
    h = hashlib.sha256()
    installed = subprocess.run(["dpkg-query", "-W", "-f=${binary:Package} ${Version} ${Status}\n"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    # (agentapp's own entry left out: an installed agentapp, in /opt, is not searched)
    h.update("".join(sorted(line + "\n" for line in installed.splitlines()
                            if not line.startswith("agentapp:"))).encode())  # fmt: skip
    for p in files:
        h.update(b"\0" + str(p.relative_to(stage)).encode() + b"\0")
        with p.open("rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def shlibs(stage: Path) -> list[str]:
    tree = stage / "debian" / "agentapp"
    files = [p for p in sorted(tree.rglob("*")) if p.is_file() and not p.is_symlink() and _elf(p)]
    cache = os.environ.get("AGENTAPP_BUILD_CACHE")
    kept = Path(cache) / f"shlibs-{_digest(files, stage)}" if cache else None
    if kept is not None and kept.is_file():
        return [rel for rel in kept.read_text().split("\n") if rel]
    found = _shlibdeps(stage, files)
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_suffix(f".{os.getpid()}")
        partial.write_text("\n".join(found))
        partial.replace(kept)  # whole or not at all, if two builds write it at once
    return found


def _shlibdeps(stage: Path, files: list[Path]) -> list[str]:
    private = sorted({str(p.parent.relative_to(stage)) for p in files if ".so" in p.name})
    (stage / "debian" / "control").write_text(
        "Source: agentapp\n\nPackage: agentapp\nArchitecture: any\n"
    )
    r = subprocess.run(
        ["dpkg-shlibdeps", "-O", "--warnings=0", *(f"-l{d}" for d in private),
         "-e", *(str(p.relative_to(stage)) for p in files)],
        cwd=stage, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        sys.exit(f"dpkg-shlibdeps failed:\n{r.stderr}")
    (stage / "debian" / "control").unlink()
    m = re.search(r"^shlibs:Depends=(.*)$", r.stdout, re.M)
    return [d.strip() for d in m.group(1).split(",")] if m else []


def merged(*groups: list[str]) -> list[str]:
    """One relation per package (the first seen: dpkg-shlibdeps' carry versions)."""
    seen: set[str] = set()
    out = []
    for group in groups:
        for rel in group:
            name = rel.split()[0]
            if name not in seen:
                seen.add(name)
                out.append(rel)
    return out


if __name__ == "__main__":
    print(", ".join(merged(FIXED, shlibs(Path(sys.argv[1])), BY_NAME)))
