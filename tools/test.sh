#!/usr/bin/env bash
# Runs every check and test: lint and types, the suite on SQLite (with the browser
# tests), then the suite again on PostgreSQL. Without PostgreSQL or Chromium those
# parts are skipped with a message; with PORTAL_REQUIRE_SERVICES=1 (CI) they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
export PORTAL_ENV=test
VENV=.venv
# Compiled bytecode is cached under .venv even where the environment says not to write it
# (see the Makefile): without it every test worker and subprocess compiles everything again.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX=${PYTHONPYCACHEPREFIX:-$PWD/$VENV/pycache}
PG_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/portal}
require=${PORTAL_REQUIRE_SERVICES:-0}
only=${1:-all}

missing() {
  if [ "$require" = "1" ]; then
    echo "FAIL: $1 (PORTAL_REQUIRE_SERVICES=1 makes this an error)" >&2
    exit 1
  fi
  echo "SKIPPED: $1" >&2
}

# pip-audit against PyPI's advisory data for every installed distribution (the pinned
# dependencies and everything they pull in). It needs PyPI's per-release JSON. Where that
# cannot be reached the audit is skipped with a message, in CI too: some build machines
# reach PyPI's package index but not its JSON API, and no setting here can change that.
# Where it can be reached, --strict fails when any dependency could not be audited.
audit_dependencies() {
  if ! $VENV/bin/python -c 'import sys, urllib.request
try:
    urllib.request.urlopen("https://pypi.org/pypi/pip/24.0/json", timeout=10).close()
except OSError:
    sys.exit(1)'; then
    echo "SKIPPED: PyPI's per-release data (https://pypi.org/pypi/<name>/<version>/json) is not reachable from this machine: dependency audit (pip-audit) not run" >&2
    return 0
  fi
  $VENV/bin/pip-audit --vulnerability-service pypi --strict --skip-editable --progress-spinner off
}

if [ "$only" = "all" ]; then
  echo "== lint"
  $VENV/bin/ruff check .
  $VENV/bin/ruff format --check .
  $VENV/bin/python manage.py makemigrations --check --dry-run
  $VENV/bin/bandit --quiet --recursive portal --configfile pyproject.toml
  audit_dependencies

  # mypy takes about a minute on one core from a fresh clone; run before the tests it
  # would leave the other core idle, so it runs beside them and reports after them.
  types_log=$(mktemp)
  $VENV/bin/mypy portal benchmarks tools >"$types_log" 2>&1 &
  types=$!

  echo "== tests on SQLite (with browser tests)"
  # worksteal: a worker that runs out takes queued tests from the other, so one long test
  # near the end does not leave a core idle.
  tests_status=0
  $VENV/bin/pytest -n auto --dist worksteal || tests_status=$?

  echo "== types (mypy, run beside the SQLite tests)"
  types_status=0
  wait "$types" || types_status=$?
  cat "$types_log"
  rm -f "$types_log"
  if [ "$tests_status" != 0 ] || [ "$types_status" != 0 ]; then
    echo "FAIL: tests on SQLite (exit $tests_status), types (exit $types_status)" >&2
    exit 1
  fi
fi

echo "== tests on PostgreSQL"
if $VENV/bin/python -m tools.services postgres "$PG_URL"; then
  # Browser tests and the engine-independent sweeps (marked any_database) ran in the SQLite
  # phase; on PostgreSQL they would only repeat the same verdicts at three times the cost.
  DATABASE_URL=$PG_URL $VENV/bin/pytest -n auto --dist worksteal -m "not browser and not any_database"
else
  missing "PostgreSQL is not reachable at $PG_URL: PostgreSQL tests skipped"
fi
