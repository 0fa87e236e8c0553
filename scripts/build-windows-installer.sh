#!/usr/bin/env bash
# Compile the Windows installer (installer/windows/agentapp.nsi) with NSIS's makensis.
# Usage: scripts/build-windows-installer.sh [PAYLOAD_DIR] [OUT_EXE]
# PAYLOAD_DIR is the PyInstaller bundle built on Windows (agentapp.exe + _internal\). Without
# one, a placeholder payload is used: that checks the script (CI), it installs nothing useful.
# Warnings are errors (-WX).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v makensis >/dev/null || { echo "makensis not found (Debian: apt-get install nsis)" >&2; exit 1; }
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' agentapp/__init__.py)
PAYLOAD=${1:-}
OUT=$(realpath -m "${2:-dist/agentapp-$VERSION-setup.exe}")
mkdir -p "$(dirname "$OUT")"
if [ -z "$PAYLOAD" ]; then
  PAYLOAD=$(mktemp -d)/agentapp
  trap 'rm -rf "$(dirname "$PAYLOAD")"' EXIT
  mkdir -p "$PAYLOAD/_internal"
  echo "placeholder: not a program" >"$PAYLOAD/agentapp.exe"
  echo "placeholder" >"$PAYLOAD/_internal/placeholder.txt"
fi
makensis -WX -V2 -DVERSION="$VERSION" -DPAYLOAD="$(realpath "$PAYLOAD")" \
  -DLICENSE_FILE="$(realpath LICENSE)" -DOUTFILE="$OUT" installer/windows/agentapp.nsi
echo "windows installer: $OUT ($(du -h "$OUT" | cut -f1))"
