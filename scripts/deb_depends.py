"""The Debian package's Depends: what the bundle's ELF files link to from Debian (found by
dpkg-shlibdeps, as debhelper does), and what the program loads by name at run time (ctypes:
mss, capture/xshm.py, platform/xcb.py; the watermark's font), which no ELF file names.

Usage: python scripts/deb_depends.py STAGE   (STAGE/debian/agentapp is the package tree)
Prints the field's value. Needs dpkg-dev.
"""

from __future__ import annotations

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


def shlibs(stage: Path) -> list[str]:
    tree = stage / "debian" / "agentapp"
    files = [p for p in sorted(tree.rglob("*")) if p.is_file() and not p.is_symlink() and _elf(p)]
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
