#!/usr/bin/env bash
# One command: set everything up, then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
echo "== ruff"
.venv/bin/ruff check agentapp tests bench
.venv/bin/ruff format --check agentapp tests bench
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
unset DISPLAY WAYLAND_DISPLAY  # the tests start their own X server
exec bash scripts/with-keyring.sh .venv/bin/python -m pytest "$@"
