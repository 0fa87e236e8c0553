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
# A worker per core and one more (most tests wait on real programs and real time), each test
# module whole on one worker: its Xvfb, browser and hub are started once. AGENTAPP_TEST_WORKERS=0
# runs it in this process alone.
workers=${AGENTAPP_TEST_WORKERS:-$(( $(nproc) + 1 ))}
parallel=()
if [ "$workers" != 0 ]; then parallel=(-n "$workers" --dist loadfile); fi
started=$SECONDS
status=0
bash scripts/with-keyring.sh .venv/bin/python -m pytest "${parallel[@]}" "$@" || status=$?
echo "== the suite took $(( SECONDS - started )) s on $(nproc) cores, $workers workers"
exit $status
