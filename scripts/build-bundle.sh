#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle of agentapp: <out>/agentapp/agentapp (+ _internal/).
# Usage: scripts/build-bundle.sh [OUT_DIR]   (default: dist). Needs `bash scripts/setup.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-dist}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "bundle: PyInstaller → $OUT/agentapp"
.venv/bin/pyinstaller installer/agentapp.spec --noconfirm --log-level ERROR \
  --distpath "$OUT" --workpath "$WORK"
test -x "$OUT/agentapp/agentapp" || { echo "bundle: PyInstaller made no executable" >&2; exit 1; }
"$OUT/agentapp/agentapp" --version
