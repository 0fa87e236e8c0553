#!/usr/bin/env bash
# One command: set everything up, then record one sample call end to end and show the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bash scripts/with-keyring.sh .venv/bin/agentapp demo "$@"
