#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle of agentapp: <out>/agentapp/agentapp (+ _internal/).
# Usage: scripts/build-bundle.sh [OUT_DIR]   (default: dist). Needs `bash scripts/setup.sh`
# and binutils (readelf, strip).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-dist}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PYTHONHASHSEED=${PYTHONHASHSEED:-0}  # the same set and dict orders in every build
echo "bundle: PyInstaller → $OUT/agentapp"
.venv/bin/pyinstaller installer/agentapp.spec --noconfirm --log-level ERROR \
  --distpath "$OUT" --workpath "$WORK"
test -x "$OUT/agentapp/agentapp" || { echo "bundle: PyInstaller made no executable" >&2; exit 1; }
B="$OUT/agentapp/_internal"
# links to the libraries the spec leaves out (Wayland, EGLFS)
find "$B" -xtype l -delete
# No debug symbols (the interpreter's are 15 MB), then no build-machine folder in any
# RUNPATH (the pyenv/venv interpreter's lib/ is in its modules'): only $ORIGIN-relative
# entries, which point inside the bundle, are kept. Not stripped: the executable (PyInstaller
# appends its archive to it) and the wheels' vendored libraries in *.libs/ (auditwheel moved
# their segments with patchelf; strip rewrites them misaligned: numpy's OpenBLAS then fails
# to load).
find "$B" -type f \( -name '*.so' -o -name '*.so.*' \) -print0 | while IFS= read -r -d '' f; do
  readelf -h "$f" >/dev/null 2>&1 || continue  # (an ELF object)
  case "$f" in
    *.libs/*) ;;
    # (grep reads all: with -q, readelf could die of SIGPIPE and pipefail skip the strip)
    *) if readelf -S "$f" | grep '\.symtab' >/dev/null; then strip --strip-unneeded "$f"; fi ;;
  esac
  rp=$(.venv/bin/patchelf --print-rpath "$f")
  if [ -n "$rp" ]; then
    kept=$(tr ':' '\n' <<<"$rp" | grep '^\$ORIGIN' | paste -sd: || true)
    if [ "$kept" != "$rp" ]; then
      if [ -n "$kept" ]; then .venv/bin/patchelf --set-rpath "$kept" "$f"
      else .venv/bin/patchelf --remove-rpath "$f"; fi
    fi
  fi
done
"$OUT/agentapp/agentapp" --version
