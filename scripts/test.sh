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
# Python keeps its compiled modules (some environments set PYTHONDONTWRITEBYTECODE): the suite
# starts the agent, its CLI and the sample windows hundreds of times, and each would compile
# this tree's modules again (pytest its rewritten test modules, once per worker).
unset PYTHONDONTWRITEBYTECODE
# Three workers (pytest-xdist, each test module whole on one worker, the longest first;
# tests/conftest.py gives each worker a session bus and a key store of its own): about 8½–9 min
# on 2 cores. Three, not two: many tests wait on real programs (browsers, lockers, a call's
# length) more than they compute.
workers=${AGENTAPP_TEST_WORKERS:-3}
parallel=()
# (--no-loadscope-reorder: xdist would otherwise hand out the modules with the most tests
# first, and the package's build, three tests long, started last and ended the run alone)
if [ "$workers" != 0 ]; then parallel=(-n "$workers" --dist loadfile --no-loadscope-reorder); fi
started=$SECONDS
status=0
bash scripts/with-keyring.sh .venv/bin/python -m pytest "${parallel[@]}" "$@" || status=$?
echo "== the suite took $(( SECONDS - started )) s on $(nproc) cores, $workers workers"
exit $status
