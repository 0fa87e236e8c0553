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
# AGENTAPP_TEST_WORKERS=N runs N workers (pytest-xdist, each test module whole on one worker:
# about 11 min instead of 20 on 2 cores). One process is the default: in parallel, a loaded
# machine still fails a timing test or two in about one run of five, and the workers share
# one key store that a test can take away from the others.
workers=${AGENTAPP_TEST_WORKERS:-0}
parallel=()
if [ "$workers" != 0 ]; then parallel=(-n "$workers" --dist loadfile); fi
started=$SECONDS
status=0
bash scripts/with-keyring.sh .venv/bin/python -m pytest "${parallel[@]}" "$@" || status=$?
echo "== the suite took $(( SECONDS - started )) s on $(nproc) cores, $workers workers"
exit $status
